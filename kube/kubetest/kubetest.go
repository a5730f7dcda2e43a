// Package kubetest gives end-to-end tests a real cluster: the local sandbox
// (see sandbox/), reused when it runs, started when it does not, and a
// namespace of their own that is removed when the test ends.
package kubetest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/k8sh/k8sh/tools/netproxy"
)

// Env is one test's view of the sandbox.
type Env struct {
	// Kubeconfig is the path of the sandbox kubeconfig (contexts sandbox and
	// sandbox-viewer).
	Kubeconfig string
	// Namespace is this test's own namespace, removed when it ends.
	Namespace string
	// Config and Clientset talk to the sandbox as its admin.
	Config    *rest.Config
	Clientset kubernetes.Interface

	stateDir string // the state dir of a PrivateSandbox, "" for the shared one
}

var (
	once       sync.Once
	kubeconfig string
	startErr   error
)

// Sandbox returns the sandbox cluster with a fresh namespace for t. It skips
// the test in -short mode. The sandbox is the one whose kubeconfig
// K8SH_SANDBOX_KUBECONFIG names (make test sets it); without it, the test
// runs `make sandbox-up` in the repository, which reuses a running sandbox
// and starts one otherwise.
func Sandbox(t testing.TB) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: needs the sandbox cluster (run without -short)")
	}
	once.Do(func() { kubeconfig, startErr = ensureSandbox() })
	if startErr != nil {
		t.Fatalf("sandbox: %v", startErr)
	}
	env := newEnv(t, kubeconfig)
	env.Namespace = env.CreateNamespace(t)
	return env
}

// newEnv is an Env (without a namespace) for the sandbox of kubeconfig.
func newEnv(t testing.TB, kubeconfig string) *Env {
	t.Helper()
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		&clientcmd.ClientConfigLoadingRules{ExplicitPath: kubeconfig},
		&clientcmd.ConfigOverrides{CurrentContext: "sandbox"}).ClientConfig()
	if err != nil {
		t.Fatalf("sandbox kubeconfig: %v", err)
	}
	cfg.QPS, cfg.Burst = 100, 200
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Env{Kubeconfig: kubeconfig, Config: cfg, Clientset: cs}
}

// CreateNamespace makes another namespace named after t, deleted at cleanup.
func (e *Env) CreateNamespace(t testing.TB) string {
	t.Helper()
	name := namespaceName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"k8sh.test": "e2e"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := e.Clientset.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("deleting namespace %s: %v", name, err)
		}
	})
	return name
}

// namespaceName turns a test name into a valid, unique namespace name.
func namespaceName(test string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(test) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	base := strings.Trim(b.String(), "-")
	if len(base) > 40 {
		base = strings.Trim(base[:40], "-")
	}
	return fmt.Sprintf("t-%s-%s", base, rand.String(5))
}

func ensureSandbox() (string, error) {
	if kc := os.Getenv("K8SH_SANDBOX_KUBECONFIG"); kc != "" {
		if _, err := os.Stat(kc); err == nil {
			return kc, nil
		}
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("make", "--no-print-directory", "sandbox-up")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("make sandbox-up: %v\n%s", err, out.String())
	}
	return filepath.Join(root, ".cache", "sandbox", "kubeconfig"), nil
}

// RepoRoot is the directory of k8sh's go.mod, found upwards from the working
// directory (a test runs in its package's directory).
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.HasPrefix(string(data), "module github.com/k8sh/k8sh\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no k8sh go.mod above the working directory")
		}
		dir = parent
	}
}

// FaultProxy starts tools/netproxy's HTTP fault proxy in front of the
// sandbox's apiserver, serving with a certificate of the sandbox's CA (so
// that its kubeconfig trusts it), and closes it when t ends. A client
// whose server is the proxy's URL meets the faults the test adds.
func (e *Env) FaultProxy(t testing.TB, http2 bool) *netproxy.HTTPProxy {
	t.Helper()
	pki := filepath.Join(filepath.Dir(e.Kubeconfig), "pki")
	p, err := netproxy.StartHTTP("127.0.0.1:0", netproxy.HTTPOptions{
		Target: e.Config.Host, CACert: filepath.Join(pki, "ca.crt"), CAKey: filepath.Join(pki, "ca.key"), HTTP2: http2,
	})
	if err != nil {
		t.Fatalf("fault proxy: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

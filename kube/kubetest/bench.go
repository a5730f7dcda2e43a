package kubetest

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// The benchmark data: BenchCount ConfigMaps of about 1 KB in BenchNamespace,
// bench-00000 ... bench-09999, labelled bench=10k and x=y (every 10th) or x=z.
const (
	BenchNamespace = "k8sh-bench"
	BenchCount     = 10000
	BenchSelector  = benchLabel + "=" + benchValue
	benchLabel     = "bench"
	benchValue     = "10k"
)

// The streaming-list data (issue 21): Bench50kCount ConfigMaps like the
// 10,000, in Bench50kNamespace, labelled bench=50k.
const (
	Bench50kNamespace = "k8sh-bench-50k"
	Bench50kCount     = 50000
)

// Bench50k is Bench10k for the 50,000 ConfigMaps of Bench50kNamespace
// (filling it takes minutes, once: benchmarks only).
func Bench50k(b *testing.B) (*Env, int) {
	b.Helper()
	return benchConfigMaps(b, benchData{Bench50kNamespace, Bench50kCount, "50k"})
}

// The watch-throughput data (issue 21): BenchCount ConfigMaps like the
// 10,000 of BenchNamespace, in BenchWatchNamespace (labelled bench=watch),
// which the watch benchmarks change.
const BenchWatchNamespace = "k8sh-bench-watch"

// BenchWatch is Bench10k for the ConfigMaps of BenchWatchNamespace.
func BenchWatch(b *testing.B) *Env {
	b.Helper()
	env, _ := benchConfigMaps(b, benchData{BenchWatchNamespace, BenchCount, "watch"})
	return env
}

// benchData is a namespace of count ConfigMaps labelled bench=value.
type benchData struct {
	namespace string
	count     int
	value     string
}

// Bench10k returns the sandbox with BenchNamespace holding the 10,000
// ConfigMaps, and how many ConfigMaps the namespace holds in all. It skips
// in -short mode and when no sandbox answers (it never starts one); the
// first call fills the namespace, later ones reuse it.
func Bench10k(b *testing.B) (*Env, int) {
	b.Helper()
	return benchConfigMaps(b, benchData{BenchNamespace, BenchCount, benchValue})
}

// filled is what ensureConfigMaps made of each benchData in this process:
// each namespace is checked (and filled) once.
var filled struct {
	sync.Mutex
	m map[benchData]*fill
}

type fill struct {
	once  sync.Once
	total int
	err   error
}

// benchConfigMaps is Bench10k for the data d.
func benchConfigMaps(b *testing.B, d benchData) (*Env, int) {
	b.Helper()
	if testing.Short() {
		b.Skip("benchmark: needs the sandbox cluster (run without -short)")
	}
	if err := SandboxReachable(); err != nil {
		b.Skipf("no sandbox (make sandbox-up starts it): %v", err)
	}
	env := Sandbox(b)
	filled.Lock()
	if filled.m == nil {
		filled.m = map[benchData]*fill{}
	}
	f := filled.m[d]
	if f == nil {
		f = &fill{}
		filled.m[d] = f
	}
	filled.Unlock()
	f.once.Do(func() { f.total, f.err = ensureConfigMaps(env, d) })
	if f.err != nil {
		b.Fatal(f.err)
	}
	return env, f.total
}

// SandboxReachable tells whether the sandbox kubeconfig exists and its API
// server accepts connections, without starting anything.
func SandboxReachable() error {
	kc := os.Getenv("K8SH_SANDBOX_KUBECONFIG")
	if kc == "" {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		kc = filepath.Join(root, ".cache", "sandbox", "kubeconfig")
	}
	cfg, err := clientcmd.LoadFromFile(kc)
	if err != nil {
		return err
	}
	cl, ok := cfg.Clusters["sandbox"]
	if !ok {
		return fmt.Errorf("%s: no cluster named sandbox", kc)
	}
	u, err := url.Parse(cl.Server)
	if err != nil {
		return err
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}

func benchName(i int) string { return fmt.Sprintf("bench-%05d", i) }

// ensureConfigMaps makes d's namespace hold exactly the ConfigMaps
// bench-00000 ... (d.count of them) labelled bench=d.value (and x=y on every
// 10th, x=z elsewhere), each with about 1 KB of data, creating the missing
// ones with 16 workers. It returns how many ConfigMaps the namespace holds
// in all.
func ensureConfigMaps(env *Env, d benchData) (int, error) {
	ctx := context.Background()
	// A client of its own so that the one-time fill is not held to the
	// test clientset's 100 requests a second.
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = 1000, 1000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: d.namespace, Labels: map[string]string{"k8sh.test": "bench"}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return 0, fmt.Errorf("creating namespace %s: %w", d.namespace, err)
	}
	cms := cs.CoreV1().ConfigMaps(d.namespace)
	_, have, err := listBench(ctx, cms, d.value)
	if err != nil {
		return 0, err
	}
	work, wait := workers(16)
	payload := strings.Repeat("0123456789abcdef", 64) // 1,024 bytes
	for i := range d.count {
		name := benchName(i)
		if have[name] {
			delete(have, name)
			continue
		}
		x := "z"
		if i%10 == 0 {
			x = "y"
		}
		work <- func() error {
			_, err := cms.Create(ctx, &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{benchLabel: d.value, "x": x}},
				Data:       map[string]string{"payload": payload},
			}, metav1.CreateOptions{})
			if apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("configmap %s/%s exists without the label %s=%s", d.namespace, name, benchLabel, d.value)
			}
			return err
		}
	}
	for name := range have { // labelled bench=10k but not one of the 10,000
		work <- func() error {
			return cms.Delete(ctx, name, metav1.DeleteOptions{})
		}
	}
	if err := wait(); err != nil {
		return 0, fmt.Errorf("filling namespace %s: %w", d.namespace, err)
	}
	// A new namespace gets its kube-root-ca.crt from the controller manager
	// a moment later: count once it is there.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		_, err := cms.Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return 0, fmt.Errorf("waiting for %s/kube-root-ca.crt: %w", d.namespace, err)
		}
	}
	total, _, err := listBench(ctx, cms, d.value)
	return total, err
}

// listBench counts the ConfigMaps of the bench namespace and returns the
// names of those labelled as bench data.
func listBench(ctx context.Context, cms typedcorev1.ConfigMapInterface, value string) (int, map[string]bool, error) {
	have := map[string]bool{}
	total := 0
	for cont := ""; ; {
		l, err := cms.List(ctx, metav1.ListOptions{Limit: 500, Continue: cont})
		if err != nil {
			return 0, nil, err
		}
		for _, cm := range l.Items {
			total++
			if cm.Labels[benchLabel] == value {
				have[cm.Name] = true
			}
		}
		if cont = l.Continue; cont == "" {
			return total, have, nil
		}
	}
}

package kubetest

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Kubectl runs the sandbox's kubectl, the oracle of the end-to-end tests,
// on an Env's kubeconfig and in its namespace.
type Kubectl struct {
	Bin string // the kubectl the sandbox built, beside its kubeconfig
	env *Env
}

// Kubectl returns the sandbox's kubectl for e; it fails t when there is none.
func (e *Env) Kubectl(t testing.TB) *Kubectl {
	t.Helper()
	bin := filepath.Join(filepath.Dir(e.Kubeconfig), "bin", "kubectl")
	if e.stateDir != "" { // a PrivateSandbox's binaries are the shared ones
		if _, root, err := sandboxctl(); err == nil {
			bin = filepath.Join(root, ".cache", "sandbox", "bin", "kubectl")
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the sandbox's kubectl: %v", err)
	}
	return &Kubectl{Bin: bin, env: e}
}

// Run runs kubectl with stdin and args and returns its stdout, stderr and
// exit status (-1 when it could not run).
func (k *Kubectl) Run(stdin string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(k.Bin, append([]string{"--kubeconfig", k.env.Kubeconfig, "-n", k.env.Namespace}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

// Must runs kubectl until it succeeds, for up to 30s (a new CRD's kind or
// a new policy is not served at once), and returns its stdout.
func (k *Kubectl) Must(t testing.TB, stdin string, args ...string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, errOut, code := k.Run(stdin, args...)
		if code == 0 {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("kubectl %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Create creates obj (JSON data) with kubectl create -f -, as Must runs it.
func (k *Kubectl) Create(t testing.TB, obj any) {
	t.Helper()
	data, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	k.Must(t, string(data), "create", "-f", "-")
}

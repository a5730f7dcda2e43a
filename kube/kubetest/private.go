package kubetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// PrivateSandbox starts a sandbox cluster of t's own, in a state directory
// of its own (the binaries are the shared ones of ROOT/.cache/sandbox/bin),
// for tests that do what the shared sandbox must not suffer, such as
// restarting kube-apiserver (RestartAPIServer). It returns an Env like
// Sandbox, with a fresh namespace, and stops the sandbox when t ends. It
// skips the test in -short mode. Starting one takes about 10 seconds.
func PrivateSandbox(t testing.TB) *Env {
	t.Helper()
	return privateSandbox(t)
}

// privateSandbox is PrivateSandbox, with sandboxctl's flags args before
// its up (-apiserver-feature-gates ...).
func privateSandbox(t testing.TB, args ...string) *Env {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: starts a sandbox cluster of its own (run without -short)")
	}
	ctl, root, err := sandboxctl()
	if err != nil {
		t.Fatalf("sandbox controller: %v", err)
	}
	state := t.TempDir()
	// Registered before `up` (and so run after the namespace cleanups and
	// before the temp dir is removed): also stops a sandbox half started.
	t.Cleanup(func() {
		if out, err := runCtl(ctl, root, state, "down"); err != nil {
			t.Errorf("stopping the private sandbox in %s: %v\n%s", state, err, out)
		}
	})
	start := time.Now()
	out, err := runCtl(ctl, root, state, append(args, "up")...)
	if err != nil {
		t.Fatalf("starting a private sandbox in %s: %v\n%s", state, err, out)
	}
	kubeconfig := lastLine(out)
	t.Logf("private sandbox up in %s (%s)", time.Since(start).Round(100*time.Millisecond), kubeconfig)
	env := newEnv(t, kubeconfig)
	env.stateDir = state
	env.Namespace = env.CreateNamespace(t)
	return env
}

// PersistentSandbox starts, or resumes with its data, a sandbox of its own
// whose state is kept in ROOT/.cache/sandbox-NAME from one run to the next:
// for benchmarks whose data takes long to make and must not fill the
// shared sandbox (100,000 Pods). It returns an Env with a fresh namespace
// and stops the sandbox, keeping its data, when tb ends; `sandboxctl -state
// DIR reset` (or removing the directory once it is down) wipes it. It skips
// in -short mode.
func PersistentSandbox(tb testing.TB, name string) *Env {
	tb.Helper()
	if testing.Short() {
		tb.Skip("benchmark: starts a sandbox cluster of its own (run without -short)")
	}
	ctl, root, err := sandboxctl()
	if err != nil {
		tb.Fatalf("sandbox controller: %v", err)
	}
	state := filepath.Join(root, ".cache", "sandbox-"+name)
	if err := os.MkdirAll(state, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if out, err := runCtl(ctl, root, state, "down"); err != nil {
			tb.Errorf("stopping the sandbox in %s: %v\n%s", state, err, out)
		}
	})
	start := time.Now()
	out, err := runCtl(ctl, root, state, "up")
	if err != nil {
		tb.Fatalf("starting the sandbox in %s: %v\n%s", state, err, out)
	}
	kubeconfig := lastLine(out)
	tb.Logf("sandbox %s up in %s (%s)", state, time.Since(start).Round(100*time.Millisecond), kubeconfig)
	env := newEnv(tb, kubeconfig)
	env.stateDir = state
	env.Namespace = env.CreateNamespace(tb)
	return env
}

// RestartAPIServer stops the kube-apiserver of a PrivateSandbox (SIGTERM,
// SIGKILL after 10 seconds) and starts it again with the same flags, on
// the same port, and returns once it is ready. Clients of env see every
// connection cut, then connections refused for a while.
func RestartAPIServer(t testing.TB, env *Env) {
	t.Helper()
	if env.stateDir == "" {
		t.Fatal("RestartAPIServer needs an Env of PrivateSandbox")
	}
	ctl, root, err := sandboxctl()
	if err != nil {
		t.Fatalf("sandbox controller: %v", err)
	}
	start := time.Now()
	if out, err := runCtl(ctl, root, env.stateDir, "restart-apiserver"); err != nil {
		t.Fatalf("restarting kube-apiserver: %v\n%s", err, out)
	}
	t.Logf("kube-apiserver restarted in %s", time.Since(start).Round(100*time.Millisecond))
}

var (
	ctlOnce sync.Once
	ctlPath string
	ctlRoot string
	ctlErr  error
)

// sandboxctl returns the sandbox controller, ROOT/.cache/sandbox/sandboxctl,
// built as the Makefile does when it is missing or older than its sources,
// and the repository root.
func sandboxctl() (string, string, error) {
	ctlOnce.Do(func() {
		ctlRoot, ctlErr = RepoRoot()
		if ctlErr != nil {
			return
		}
		ctlPath = filepath.Join(ctlRoot, ".cache", "sandbox", "sandboxctl")
		ctlErr = buildSandboxctl(ctlRoot, ctlPath)
	})
	return ctlPath, ctlRoot, ctlErr
}

func buildSandboxctl(root, path string) error {
	src := filepath.Join(root, "sandbox")
	deps, _ := filepath.Glob(filepath.Join(src, "*.go"))
	deps = append(deps, filepath.Join(src, "go.mod"), filepath.Join(src, "go.sum"))
	if fi, err := os.Stat(path); err == nil {
		fresh := true
		for _, d := range deps {
			if di, err := os.Stat(d); err == nil && di.ModTime().After(fi.ModTime()) {
				fresh = false
				break
			}
		}
		if fresh {
			return nil
		}
	}
	// Build next to it and rename, so that a concurrent user never runs a
	// half-written binary.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".sandboxctl-*")
	if err != nil {
		return err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "-C", src, "build", "-o", tmp.Name(), ".")
	cmd.Env = append(os.Environ(), "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go -C %s build: %v\n%s", src, err, out)
	}
	return os.Rename(tmp.Name(), path)
}

// runCtl runs `sandboxctl -root ROOT -state STATE cmd...` and returns its
// stdout; on failure, stdout and stderr.
func runCtl(ctl, root, state string, cmd ...string) (string, error) {
	c := exec.Command(ctl, append([]string{"-root", root, "-state", state}, cmd...)...)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	if err := c.Run(); err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

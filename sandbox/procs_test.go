package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// TestOwnedBy checks that the processes of a sandbox are told from those of
// another state dir sharing the bin dir, even one nested in it.
func TestOwnedBy(t *testing.T) {
	root := t.TempDir()
	shared, err := newEnv(root, "")
	if err != nil {
		t.Fatal(err)
	}
	private, err := newEnv(root, filepath.Join(shared.stateDir, "private"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := newEnv(root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*env{shared, private, other} {
		if err := os.MkdirAll(e.stateDir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	start := func(dir string, args ...string) int {
		t.Helper()
		cmd := exec.Command("sh", append([]string{"-c", "sleep 30", "sh"}, args...)...)
		cmd.Dir = dir
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd.Process.Pid
	}
	cmdline := func(pid int) []byte {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
		return b
	}
	neutral := t.TempDir()
	for _, tc := range []struct {
		name  string
		pid   int
		owner *env
	}{
		{"cwd shared", start(shared.stateDir), shared},
		{"cwd private", start(private.stateDir), private},
		{"etcd data dir", start(neutral, "--data-dir", private.etcdDir), private},
		{"kubeconfig=", start(neutral, "--kubeconfig="+filepath.Join(shared.pkiDir, "admin.kubeconfig")), shared},
		{"cert dir", start(neutral, "--cert-dir", filepath.Join(other.pkiDir, "apiserver-certs")), other},
		{"none", start(neutral, "--kubeconfig", filepath.Join(shared.stateDir, "elsewhere")), nil},
	} {
		for _, e := range []*env{shared, private, other} {
			if got, want := e.ownedBy(tc.pid, cmdline(tc.pid)), e == tc.owner; got != want {
				t.Errorf("%s: ownedBy(%s) = %v, want %v", tc.name, e.stateDir, got, want)
			}
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestExecCommandE2E: `k8sh exec` prints, reads stdin and exits as
// `kubectl exec` with the same arguments: the same stdout, stderr and exit
// status, for a pod, a workload, -c, -i, a failing command, a missing pod
// (the error's wording aside) and bad usage; and the k8sh config's
// read-only contexts refuse it.
func TestExecCommandE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	k := env.Kubectl(t)
	cfg := t.TempDir()
	base := []string{"XDG_CONFIG_HOME=" + cfg}
	for _, tc := range []struct {
		stdin string
		args  []string
	}{
		{"", []string{pod, "--", "sh", "-c", "echo out; echo err >&2; exit 3"}},
		{"", []string{"pod/" + pod, "--", "sh", "-c", "echo $POD_NAME $CONTAINER_NAME"}},
		{"", []string{"deploy/web", "--", "sh", "-c", "echo $POD_NAME"}},
		{"", []string{pod, "-c", "web", "--", "true"}},
		{"line 1\nline 2\n", []string{"-i", pod, "--", "sh", "-c", "cat; echo done"}},
		{"not read\n", []string{pod, "--", "sh", "-c", "cat; echo done"}},
		{"in\n", []string{"-i", "-t", pod, "--", "cat"}}, // not a terminal: kubectl's note, no TTY
		{"", []string{"-q", pod, "--", "sh", "-c", "exit 7"}},
	} {
		kargs := append([]string{"exec", "-n", ns}, tc.args...)
		kout, kerr, kcode := k.Run(tc.stdin, kargs...)
		got := clitest.K8sh(t, tc.stdin, base, append([]string{"--kubeconfig", env.Kubeconfig, "exec", "-n", ns}, tc.args...)...)
		if got.Stdout != kout || got.Stderr != kerr || got.Code != kcode {
			t.Errorf("k8sh exec %q:\n got (%q, %q, %d)\nwant (%q, %q, %d) from kubectl", tc.args, got.Stdout, got.Stderr, got.Code, kout, kerr, kcode)
		}
	}
	// Failures: the same status, kubectl's message in k8sh's words.
	for _, tc := range []struct {
		args []string
		want string
		code int
	}{
		{[]string{"nope", "--", "true"}, `k8sh exec: pods "nope" not found`, 1},
		{[]string{pod, "-c", "nope", "--", "true"}, "k8sh exec: container nope is not valid for pod " + pod + " out of: web", 1},
		{[]string{pod}, "you must specify at least one command for the container", 2},
		{[]string{pod, "date", "x"}, "exec [POD] [COMMAND] is not supported", 2},
	} {
		got := clitest.K8sh(t, "", base, append([]string{"--kubeconfig", env.Kubeconfig, "exec", "-n", ns}, tc.args...)...)
		_, _, kcode := k.Run("", append([]string{"exec", "-n", ns}, tc.args...)...)
		if !strings.Contains(got.Stderr, tc.want) || got.Code != tc.code || got.Stdout != "" {
			t.Errorf("k8sh exec %q: (%q, %q, %d), want %q and status %d (kubectl's: %d)", tc.args, got.Stdout, got.Stderr, got.Code, tc.want, tc.code, kcode)
		}
	}
	// A read-only context of the k8sh config refuses it.
	os.MkdirAll(filepath.Join(cfg, "k8sh"), 0o755)
	os.WriteFile(filepath.Join(cfg, "k8sh", "config.yaml"), []byte("read_only: [sandbox]\n"), 0o644)
	got := clitest.K8sh(t, "", base, "--kubeconfig", env.Kubeconfig, "exec", "-n", ns, pod, "--", "touch", "made")
	if want := `k8sh exec: context "sandbox" is read-only (read_only in the k8sh config): refusing to exec` + "\n"; got.Stderr != want || got.Code != 1 {
		t.Errorf("in a read-only context: (%q, %d), want %q and 1", got.Stderr, got.Code, want)
	}
}

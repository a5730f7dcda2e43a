package main

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

const leaderScript = `
def reconcile(cm, key):
    print("reconciled %s" % key)
k8s.controller("configmaps", reconcile, selector="le=test")
`

// TestRunLeaderElectionE2E runs two `k8sh run --leader-elect` processes
// of one script: only the leader reconciles; SIGKILLed, the other takes
// over once the lease expires; SIGTERM ends a leader with status 0 and
// releases the lease, so that a third takes over at once.
func TestRunLeaderElectionE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	script := filepath.Join(t.TempDir(), "le.star")
	if err := os.WriteFile(script, []byte(leaderScript), 0o644); err != nil {
		t.Fatal(err)
	}
	const leaseDuration = 3 * time.Second
	start := func() *clitest.Proc {
		return clitest.Start(t, []string{"XDG_CONFIG_HOME=" + t.TempDir()},
			"run", "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "-n", ns,
			"--leader-elect", "--lease-name", "le-test", "--lease-duration", leaseDuration.String(),
			"--renew-deadline", "2s", "--retry-period", "250ms", script)
	}
	leading := regexp.MustCompile(`k8sh run: leading \(lease \S+, as (\S+)\)`)
	holder := func() string {
		return k.Must(t, "", "get", "lease", "le-test", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}")
	}

	a, b := start(), start()
	var leader, follower *clitest.Proc
	deadline := time.Now().Add(30 * time.Second)
	for leader == nil {
		switch {
		case leading.MatchString(a.Stderr()):
			leader, follower = a, b
		case leading.MatchString(b.Stderr()):
			leader, follower = b, a
		case time.Now().After(deadline):
			t.Fatalf("no leader:\n%s\n%s", a.Stderr(), b.Stderr())
		default:
			time.Sleep(50 * time.Millisecond)
		}
	}
	id := leading.FindStringSubmatch(leader.Stderr())[1]
	if follower.WaitStderr(regexp.MustCompile(`k8sh run: `+regexp.QuoteMeta(id)+` leads`), 30*time.Second) == nil {
		t.Fatalf("the follower did not see the leader:\n%s", follower.Stderr())
	}
	if h := holder(); h != id {
		t.Fatalf("lease holder %q, want the leader %q", h, id)
	}
	// Both are healthy and ready (the follower's cache is warm).
	for _, p := range []*clitest.Proc{leader, follower} {
		m := p.WaitStderr(regexp.MustCompile(`health checks on http://(\S+)/healthz`), 10*time.Second)
		for _, path := range []string{"/healthz", "/readyz"} {
			waitUntil(t, path, func() bool {
				resp, err := http.Get("http://" + m[1] + path)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == 200
			})
		}
	}

	k.Must(t, "", "create", "configmap", "one", "-n", ns)
	k.Must(t, "", "label", "configmap", "one", "-n", ns, "le=test")
	waitUntil(t, "the leader's reconcile of one", func() bool { return strings.Contains(leader.Stdout(), "reconciled "+ns+"/one\n") })
	time.Sleep(500 * time.Millisecond)
	if out := follower.Stdout(); out != "" {
		t.Fatalf("the follower reconciled:\n%s", out)
	}

	// SIGKILL: the lease is not released; the follower takes it when it
	// expires.
	if err := leader.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	if follower.WaitStderr(leading, 30*time.Second) == nil {
		t.Fatalf("the follower did not take over:\n%s", follower.Stderr())
	}
	took := time.Since(killed)
	t.Logf("after SIGKILL of the leader, the follower led in %s (lease duration %s)", took.Round(time.Millisecond), leaseDuration)
	if took > 3*leaseDuration {
		t.Errorf("takeover took %s, far beyond the lease duration %s", took, leaseDuration)
	}
	newID := leading.FindStringSubmatch(follower.Stderr())[1]
	if h := holder(); h != newID {
		t.Errorf("lease holder %q, want %q", h, newID)
	}
	waitUntil(t, "the new leader's reconcile of one", func() bool { return strings.Contains(follower.Stdout(), "reconciled "+ns+"/one\n") })
	k.Must(t, "", "create", "configmap", "two", "-n", ns)
	k.Must(t, "", "label", "configmap", "two", "-n", ns, "le=test")
	waitUntil(t, "the new leader's reconcile of two", func() bool { return strings.Contains(follower.Stdout(), "reconciled "+ns+"/two\n") })

	// SIGTERM: a clean exit that releases the lease; a third process takes
	// it without waiting for it to expire.
	c := start()
	if c.WaitStderr(regexp.MustCompile(`k8sh run: `+regexp.QuoteMeta(newID)+` leads`), 30*time.Second) == nil {
		t.Fatalf("the third did not see the leader:\n%s", c.Stderr())
	}
	if err := follower.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	termed := time.Now()
	code, ok := follower.Wait(30 * time.Second)
	if !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited %v with status %d, want 0:\n%s", ok, code, follower.Stderr())
	}
	for _, want := range []string{"k8sh run: SIGTERM: stopping", "k8sh run: released the lease " + ns + "/le-test", "k8sh run: stopped"} {
		if !strings.Contains(follower.Stderr(), want) {
			t.Errorf("no %q in:\n%s", want, follower.Stderr())
		}
	}
	if c.WaitStderr(leading, 30*time.Second) == nil {
		t.Fatalf("the third did not take over:\n%s", c.Stderr())
	}
	t.Logf("after SIGTERM of the leader, the third led in %s", time.Since(termed).Round(time.Millisecond))
	waitUntil(t, "the third's reconciles", func() bool {
		return strings.Contains(c.Stdout(), "reconciled "+ns+"/one\n") && strings.Contains(c.Stdout(), "reconciled "+ns+"/two\n")
	})
	if err := c.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := c.Wait(30 * time.Second); !ok || code != 0 {
		t.Fatalf("after SIGTERM: exited %v with status %d, want 0:\n%s", ok, code, c.Stderr())
	}
	if h := holder(); h != "" {
		t.Errorf("after the last one's SIGTERM the lease is held by %q, want released", h)
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRunHandlersE2E: `k8sh run` calls the k8s.on handlers a script
// registers (with no controller), and SIGTERM ends it with status 0.
func TestRunHandlersE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := env.Namespace
	k := env.Kubectl(t)
	script := filepath.Join(t.TempDir(), "h.star")
	src := `
def note(ev):
    print("%s %s" % (ev.type, ev.object.metadata.name))
    if ev.type == "ADDED":
        k8s.patch(ev.object, {"metadata": {"labels": {"seen": "yes"}}})
k8s.on("cm", note, events=["ADDED", "DELETED"], selector="h=test")
`
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := clitest.Start(t, []string{"XDG_CONFIG_HOME=" + t.TempDir()}, "run", "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "-n", ns, script)
	if p.WaitStderr(regexp.MustCompile(`k8sh run: \S+: handler 1 \(note on configmaps\); health checks on`), 30*time.Second) == nil {
		t.Fatalf("no start line:\n%s", p.Stderr())
	}
	k.Must(t, "", "create", "configmap", "one", "-n", ns)
	k.Must(t, "", "label", "configmap", "one", "-n", ns, "h=test")
	waitUntil(t, "the handler's label", func() bool {
		return k.Must(t, "", "get", "configmap", "one", "-n", ns, "-o", "jsonpath={.metadata.labels.seen}") == "yes"
	})
	k.Must(t, "", "delete", "configmap", "one", "-n", ns)
	waitUntil(t, "the DELETED event", func() bool { return strings.Contains(p.Stdout(), "DELETED one\n") })
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code, ok := p.Wait(30 * time.Second); !ok || code != 0 {
		t.Fatalf("exit %d (exited: %v) after SIGTERM:\n%s", code, ok, p.Stderr())
	}
	if got := p.Stdout(); got != "ADDED one\nDELETED one\n" {
		t.Errorf("stdout %q", got)
	}
	if !strings.HasSuffix(p.Stderr(), "k8sh run: stopped\n") {
		t.Errorf("stderr:\n%s", p.Stderr())
	}
}

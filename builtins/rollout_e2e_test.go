package builtins

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// captured is what a run printed as the REPL would show it: print's lines
// and the announce lines of changes, in order, in out; stderr apart.
type captured struct {
	mu   sync.Mutex
	out  []string
	errb bytes.Buffer
}

func (c *captured) print(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.out = append(c.out, strings.Split(line, "\n")...)
}

func (c *captured) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errb.Write(p)
}

// stdout is what was printed, one "\n" after each line.
func (c *captured) stdout() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.out) == 0 {
		return ""
	}
	return strings.Join(c.out, "\n") + "\n"
}

func (c *captured) stderr() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errb.String()
}

// replRun runs src (NS replaced by env's namespace) on cluster c as the
// REPL runs a statement, what it prints captured in cap; the error is the
// run's.
func replRun(env *kubetest.Env, c Cluster, cap *captured, src string) error {
	thread := &starlark.Thread{Name: "repl", Print: func(_ *starlark.Thread, msg string) { cap.print(msg) }}
	s := &Session{Cluster: c, Announce: cap.print}
	s.Sys.Stderr = cap
	SetSession(thread, s)
	sys.SetContext(thread, context.Background())
	_, err := starlark.ExecFileOptions(starOptions, thread, "repl.star", strings.ReplaceAll(src, "NS", env.Namespace), Globals(nil))
	return err
}

// mustRepl is replRun that fails t on an error, returning stdout.
func mustRepl(t *testing.T, env *kubetest.Env, c Cluster, src string) string {
	t.Helper()
	var cap captured
	if err := replRun(env, c, &cap, src); err != nil {
		t.Fatalf("%s\n%v\nstderr: %s", src, err, cap.stderr())
	}
	return cap.stdout()
}

// slowDeployment is a Deployment whose pods become Ready delay after they
// start (the sandbox's pod-ready delay annotation), rolled one pod at a
// time.
func slowDeployment(name string, replicas int, delay string) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %[1]s}
spec:
  replicas: %[2]d
  selector: {matchLabels: {app: %[1]s}}
  strategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata:
      labels: {app: %[1]s}
      annotations: {pod-ready.stage.kwok.x-k8s.io/delay: %[3]s}
    spec:
      containers: [{name: c, image: nginx}]
`, name, replicas, delay)
}

// TestRolloutStatusLikeKubectlE2E watches one slow rollout (pods Ready 1s
// after they start, one at a time) with kubectl rollout status and
// k8s.rollout.status at once, both started while the rollout is paused,
// and compares the lines they print: the same sequence, byte for byte.
// Then the one-shot status of a statefulset and a daemonset, a timeout
// naming what is stuck, and the errors.
func TestRolloutStatusLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	kubectl.Must(t, slowDeployment("slow", 3, "1s"), "apply", "-f", "-")
	kubectl.Must(t, "", "rollout", "status", "deploy/slow", "--timeout", "120s")
	kubectl.Must(t, "", "rollout", "pause", "deploy/slow")
	kubectl.Must(t, "", "set", "image", "deploy/slow", "c=nginx:2")
	deadline := time.Now().Add(60 * time.Second)
	for {
		d, err := env.Clientset.AppsV1().Deployments(env.Namespace).Get(context.Background(), "slow", metav1.GetOptions{})
		if err == nil && d.Status.ObservedGeneration == d.Generation {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the paused deployment's change was never observed: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	var stuck captured
	err := replRun(env, c, &stuck, `k8s.rollout.status("deploy/slow", timeout="1s")`)
	want := `k8s.rollout.status: timed out after 1s waiting for the rollout of deployment "slow": last status: Waiting for deployment "slow" rollout to finish: 0 out of 3 new replicas have been updated...`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("a paused rollout with timeout=1s: got %v, want %s", err, want)
	}

	// kubectl rollout status, its lines as they come.
	cmd := exec.Command(kubectl.Bin, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "rollout", "status", "deploy/slow", "--timeout", "3m")
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var kerr bytes.Buffer
	cmd.Stderr = &kerr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var kmu sync.Mutex
	var klines []string
	kdone := make(chan struct{})
	go func() {
		defer close(kdone)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			kmu.Lock()
			klines = append(klines, sc.Text())
			kmu.Unlock()
		}
	}()
	var got captured
	sdone := make(chan error, 1)
	go func() {
		sdone <- replRun(env, c, &got, `assert_done = k8s.rollout.status("deploy/slow", timeout="3m")`)
	}()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		kmu.Lock()
		n := len(klines)
		kmu.Unlock()
		if n > 0 && got.stdout() != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status line after 60s: kubectl %q %s, k8sh %q", klines, kerr.String(), got.stdout())
		}
	}
	kubectl.Must(t, "", "rollout", "resume", "deploy/slow")
	if err := <-sdone; err != nil {
		t.Fatalf("k8s.rollout.status: %v", err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("kubectl rollout status: %v\n%s", err, kerr.String())
	}
	<-kdone
	kwant := strings.Join(klines, "\n") + "\n"
	if g := got.stdout(); g != kwant {
		t.Fatalf("k8s.rollout.status printed:\n%s\nkubectl rollout status printed:\n%s", g, kwant)
	}
	// The sequence is a real one: updated, then available, one by one.
	for _, line := range []string{
		`Waiting for deployment "slow" rollout to finish: 0 out of 3 new replicas have been updated...`,
		`Waiting for deployment "slow" rollout to finish: 1 out of 3 new replicas have been updated...`,
		`Waiting for deployment "slow" rollout to finish: 2 out of 3 new replicas have been updated...`,
		`deployment "slow" successfully rolled out`,
	} {
		if !strings.Contains(kwant, line+"\n") {
			t.Errorf("the rollout printed no %q:\n%s", line, kwant)
		}
	}
	t.Logf("both printed:\n%s", kwant)

	// A statefulset and a daemonset, done: the one line, with watch=False.
	kubectl.Must(t, `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: nginx}]}
`, "apply", "-f", "-")
	for _, target := range []string{"sts/db", "ds/agent"} {
		kubectl.Must(t, "", "rollout", "status", target, "--timeout", "120s")
		want := kubectl.Must(t, "", "rollout", "status", target, "--watch=false")
		if got := mustRepl(t, env, c, fmt.Sprintf(`k8s.rollout.status(%q, watch=False)`, target)); got != want {
			t.Errorf("k8s.rollout.status(%q, watch=False) printed %q, kubectl %q", target, got, want)
		}
	}
	// A revision that is not the one rolled out: kubectl's error.
	_, kerrOut, code := kubectl.Run("", "rollout", "status", "deploy/slow", "--revision=1")
	if code == 0 || !strings.HasPrefix(kerrOut, "error: desired revision (1) is different from the running revision (2)") {
		t.Fatalf("kubectl rollout status --revision=1: exit %d %s", code, kerrOut)
	}
	runStar(t, c, `
assert.fails(lambda: k8s.rollout.status("deploy/slow", revision=1), "^k8s.rollout.status: deployment/slow: desired revision \\(1\\) is different from the running revision \\(2\\)$")
assert.eq(k8s.rollout.status("deploy/slow", revision=2, watch=False), True)
assert.eq(k8s.rollout.status("ds/agent", watch=False), True)
assert.fails(lambda: k8s.rollout.status("deploy/nope"), 'k8s.rollout.status: deployment/nope: deployments.apps "nope" not found')
assert.fails(lambda: k8s.rollout.status("cm", "x"), "k8s.rollout.status: cannot show the rollout status of configmaps: only deployments, statefulsets and daemonsets have rollouts")
assert.fails(lambda: k8s.rollout.status("deploy"), "k8s.rollout.status: which deploy\\? give a name")
assert.fails(lambda: k8s.rollout.status("deploy/slow", revision=-1), "revision must not be negative")
`)
}

// TestRolloutHistoryLikeKubectlE2E compares k8s.rollout.history with
// kubectl rollout history byte for byte: the table and a revision's detail
// of a deployment (with change causes), a statefulset and a daemonset; and
// the revisions as values.
func TestRolloutHistoryLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	kubectl.Must(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: hist}
spec:
  replicas: 1
  selector: {matchLabels: {app: hist}}
  template:
    metadata: {labels: {app: hist}}
    spec: {containers: [{name: c, image: nginx:1}]}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec: {containers: [{name: c, image: nginx:1}]}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: c, image: nginx:1}]}
`, "apply", "-f", "-")
	for _, target := range []string{"deploy/hist", "sts/db", "ds/agent"} {
		kubectl.Must(t, "", "rollout", "status", target, "--timeout", "120s")
		for i, image := range []string{"nginx:2", "nginx:3"} {
			if i == 1 {
				// Before the change, as kubectl's former --record did:
				// statefulsets and daemonsets copy it to the revision they
				// make then.
				kubectl.Must(t, "", "annotate", target, "kubernetes.io/change-cause=to "+image+" for the test")
			}
			kubectl.Must(t, "", "set", "image", target, "c="+image)
			kubectl.Must(t, "", "rollout", "status", target, "--timeout", "120s")
		}
	}
	for _, ch := range []struct{ star, kubectl string }{
		{`k8s.rollout.history("deploy/hist")`, "deploy/hist"},
		{`k8s.rollout.history("deploy", "hist", revision=2)`, "deploy/hist --revision=2"},
		{`k8s.rollout.history("sts/db")`, "sts/db"},
		{`k8s.rollout.history("sts/db", revision=3)`, "sts/db --revision=3"},
		{`k8s.rollout.history("ds/agent")`, "ds/agent"},
		{`k8s.rollout.history("ds/agent", revision=1)`, "ds/agent --revision=1"},
	} {
		want := kubectl.Must(t, "", append([]string{"rollout", "history"}, strings.Fields(ch.kubectl)...)...)
		if got := runStar(t, c, "print("+ch.star+")"); got != want {
			t.Errorf("%s printed:\n%s\nkubectl rollout history %s:\n%s", ch.star, got, ch.kubectl, want)
		}
	}
	runStar(t, c, `
for target in ["deploy/hist", "sts/db", "ds/agent"]:
    h = k8s.rollout.history(target)
    assert.eq([r.number for r in h], [1, 2, 3])
    assert.eq([r.template.spec.containers[0].image for r in h], ["nginx:1", "nginx:2", "nginx:3"])
    assert.eq(h[2].change_cause, "to nginx:3 for the test")
    assert.eq(h[0].change_cause, "")
    assert.eq(type(h), "k8s.history")
    one = k8s.rollout.history(target, revision=2)
    assert.eq([r.number for r in one], [2])
assert.fails(lambda: k8s.rollout.history("deploy/hist", revision=9), "k8s.rollout.history: deployment/hist: unable to find the specified revision")
assert.fails(lambda: k8s.rollout.history("cm/x"), "cannot show the rollout history of configmaps")
assert.fails(lambda: k8s.rollout.history("deploy/nope"), 'deployments.apps "nope" not found')
`)
}

// templateJSON is the pod template of deployment name in namespace ns.
func templateJSON(t *testing.T, env *kubetest.Env, ns, name string) string {
	t.Helper()
	d, err := env.Clientset.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(d.Spec.Template)
	return string(b)
}

// TestRolloutUndoPauseResumeRestartLikeKubectlE2E makes identical
// deployments in two namespaces, changes one with k8s.rollout and the
// other with kubectl rollout, and compares what each printed (stdout and
// its warnings) and the pod templates they leave: undo, undo to a
// revision, undo that matches already, a dry run, pause, resume, restart,
// and the errors of each. Then many at once: by selector in name order,
// and a list with a missing one in the middle, named, the others changed.
func TestRolloutUndoPauseResumeRestartLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	other := env.CreateNamespace(t)
	web := `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1}]}
`
	nss := []string{env.Namespace, other}
	for _, ns := range nss {
		kubectl.Must(t, web, "apply", "-n", ns, "-f", "-")
		kubectl.Must(t, "", "rollout", "status", "-n", ns, "deploy/web", "--timeout", "120s")
		kubectl.Must(t, "", "set", "image", "-n", ns, "deploy/web", "c=nginx:2")
		kubectl.Must(t, "", "rollout", "status", "-n", ns, "deploy/web", "--timeout", "120s")
	}
	same := func(step string) {
		t.Helper()
		a, b := templateJSON(t, env, env.Namespace, "web"), templateJSON(t, env, other, "web")
		if a != b {
			t.Fatalf("after %s the templates differ:\nk8sh:    %s\nkubectl: %s", step, a, b)
		}
	}
	steps := []struct {
		star, kubectl string
		fails         bool
	}{
		{`k8s.rollout.undo("deploy/web", dry_run=True)`, "undo deploy/web --dry-run=server", false},
		{`k8s.rollout.undo("deploy/web")`, "undo deploy/web", false},
		{`k8s.rollout.undo("deploy", "web", to_revision=2)`, "undo deploy/web --to-revision=2", false},
		{`k8s.rollout.undo("deploy/web", to_revision=4)`, "undo deploy/web --to-revision=4", false},
		{`k8s.rollout.undo("deploy/web", to_revision=9)`, "undo deploy/web --to-revision=9", true},
		{`k8s.rollout.pause("deploy/web")`, "pause deploy/web", false},
		{`k8s.rollout.pause("deploy/web")`, "pause deploy/web", true},
		{`k8s.rollout.undo("deploy/web")`, "undo deploy/web", true},
		{`k8s.rollout.restart("deploy/web")`, "restart deploy/web", true},
		{`k8s.rollout.resume("deploy/web")`, "resume deploy/web", false},
		{`k8s.rollout.resume("deploy/web")`, "resume deploy/web", true},
	}
	for _, st := range steps {
		var cap captured
		err := replRun(env, c, &cap, st.star)
		out, errOut, code := kubectl.Run("", append([]string{"-n", other, "rollout"}, strings.Fields(st.kubectl)...)...)
		if (code != 0) != st.fails || (err != nil) != st.fails {
			t.Fatalf("%s: %v (%s); kubectl rollout %s: exit %d %s%s", st.star, err, cap.stderr(), st.kubectl, code, out, errOut)
		}
		if cap.stdout() != out {
			t.Errorf("%s printed %q, kubectl rollout %s %q", st.star, cap.stdout(), st.kubectl, out)
		}
		if st.fails {
			// kubectl: "error: deployments.apps "web" is already paused";
			// k8sh: "k8s.rollout.pause: deployment/web: deployments.apps ...".
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			msg := strings.TrimPrefix(lines[len(lines)-1], "error: ")
			if !strings.HasSuffix(err.Error(), msg) {
				t.Errorf("%s failed with %q, kubectl with %q", st.star, err, errOut)
			}
		} else if cap.stderr() != errOut {
			t.Errorf("%s warned %q, kubectl rollout %s %q", st.star, cap.stderr(), st.kubectl, errOut)
		}
		same(st.star)
		if !st.fails && !strings.Contains(st.kubectl, "dry-run") && !strings.HasPrefix(st.kubectl, "pause") {
			// The next step reads the revisions this one makes.
			for _, ns := range nss {
				kubectl.Must(t, "", "rollout", "status", "-n", ns, "deploy/web", "--timeout", "120s")
			}
		}
	}
	// A restart: the same announce line, each template restarted.
	out := mustRepl(t, env, c, `k8s.rollout.restart("deploy/web")`)
	if want := kubectl.Must(t, "", "-n", other, "rollout", "restart", "deploy/web"); out != want {
		t.Errorf("k8s.rollout.restart printed %q, kubectl %q", out, want)
	}
	for _, ns := range nss {
		if !strings.Contains(templateJSON(t, env, ns, "web"), `"kubectl.kubernetes.io/restartedAt"`) {
			t.Errorf("deploy/web in %s was not restarted: %s", ns, templateJSON(t, env, ns, "web"))
		}
	}

	// Many at once, by selector: in name order, announced in that order.
	for _, ns := range nss {
		for _, n := range []string{"b2", "b0", "b1"} {
			kubectl.Must(t, strings.ReplaceAll(strings.Replace(web, "metadata: {name: web}", "metadata: {name: web, labels: {tier: bulk}}", 1), "web", n), "apply", "-n", ns, "-f", "-")
		}
	}
	out = mustRepl(t, env, c, `
ds = k8s.rollout.pause("deploy", selector="tier=bulk")
assert_names = [d.metadata.name for d in ds]
if assert_names != ["b0", "b1", "b2"]: fail(assert_names)
`)
	if want := kubectl.Must(t, "", "-n", other, "rollout", "pause", "deploy", "-l", "tier=bulk"); out != want {
		t.Errorf("k8s.rollout.pause by selector printed %q, kubectl %q", out, want)
	}
	var cap captured
	err := replRun(env, c, &cap, `k8s.rollout.resume(["deploy/b0", "deploy/missing", "deploy/b2"])`)
	if err == nil || !strings.Contains(err.Error(), "k8s.rollout.resume: 1 of 3 objects failed: "+env.Namespace+"/deployment/missing: ") {
		t.Fatalf("a list with a missing deployment: got %v", err)
	}
	if want := "deployment.apps/b0 resumed\ndeployment.apps/b2 resumed\n"; cap.stdout() != want {
		t.Errorf("the others were announced as %q, want %q", cap.stdout(), want)
	}
	runStar(t, c, `
assert.eq(k8s.rollout.resume("deploy/b1", dry_run=True).spec.get("paused", False), False)
assert.eq([k8s.get("deploy", n).spec.get("paused", False) for n in ["b0", "b1", "b2"]], [False, True, False])
assert.eq(k8s.rollout.restart("deploy", selector="app=nomatch"), [])
assert.fails(lambda: k8s.rollout.pause("deploy"), 'k8s.rollout.pause: which deploy\\? give "deploy/NAME", or selector= to change every match')
assert.fails(lambda: k8s.rollout.pause(["deploy/b0", "sts/db"]), "^k8s.rollout.pause: cannot pause statefulsets.apps: only deployments can be paused and resumed$")
assert.eq(k8s.get("deploy/b0").spec.get("paused", False), False)
assert.fails(lambda: k8s.rollout.undo("deploy/b0", to_revision=-1), "to_revision must not be negative")
assert.fails(lambda: k8s.rollout.pause(["deploy/b0"], selector="a=b"), "selector= and all_namespaces= are for a kind")
assert.eq(sorted(dir(k8s.rollout)), ["history", "pause", "restart", "resume", "status", "undo"])
assert.fails(lambda: k8s.rollout.stauts, "k8s.rollout has no .stauts field or method \\(did you mean .status\\?\\)")
`)
	// The safety policy: read-only refuses, before anything is sent.
	runStarSession(t, env, &Session{Cluster: c, ReadOnly: true}, `
assert.fails(lambda: k8s.rollout.undo("deploy/web"), 'k8s.rollout.undo: context "sandbox" is read-only \\(--read-only\\): refusing to undo the rollout of deploy/web')
assert.fails(lambda: k8s.rollout.restart("deploy", selector="tier=bulk"), "refusing to restart every deploy matching tier=bulk")
`)
}

// sortedMiddle is lines with all but the first and last sorted: what
// kubectl drain prints between "cordoned" and "drained" comes from one
// goroutine per pod, in no set order.
func sortedMiddle(text string) string {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) > 2 {
		sort.Strings(lines[1 : len(lines)-1])
	}
	return strings.Join(lines, "\n") + "\n"
}

package builtins

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// drainNode is the sandbox's second node, which the drain tests drain:
// their pods prefer it, and move to kwok-node-0.
const drainNode = "kwok-node-1"

// onDrainNode is a pod template's affinity for drainNode (preferred, so
// that the pods can move when it is drained).
const onDrainNode = `
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [` + drainNode + `]}]}`

// uncordonAtEnd makes drainNode schedulable again when t ends.
func uncordonAtEnd(t *testing.T, env *kubetest.Env) {
	t.Cleanup(func() {
		_, err := env.Clientset.CoreV1().Nodes().Patch(context.Background(), drainNode, types.MergePatchType,
			[]byte(`{"spec":{"unschedulable":null}}`), metav1.PatchOptions{})
		if err != nil {
			t.Errorf("uncordoning %s: %v", drainNode, err)
		}
	})
}

// podsOnNode waits until the pods of ns that selector matches are n, all
// Ready, and on node ("" for any node but drainNode), and returns their
// names.
func podsOnNode(t *testing.T, env *kubetest.Env, ns, selector string, n int, node string) []string {
	t.Helper()
	var last []string
	for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pods, err := env.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		last = last[:0]
		ok := len(pods.Items) == n
		for _, p := range pods.Items {
			last = append(last, p.Name+"@"+p.Spec.NodeName)
			ready := false
			for _, c := range p.Status.Conditions {
				ready = ready || c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue
			}
			where := p.Spec.NodeName == node || node == "" && p.Spec.NodeName != drainNode && p.Spec.NodeName != ""
			ok = ok && ready && where && p.DeletionTimestamp == nil
		}
		if ok {
			names := make([]string, len(pods.Items))
			for i, p := range pods.Items {
				names[i] = p.Name
			}
			return names
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods %s of %s: want %d Ready on %q, have %v", selector, ns, n, node, last)
		}
	}
}

// drainSetup makes in ns a StatefulSet web (2 pods) on drainNode and a
// DaemonSet agent, their pods labelled drain=ns, and waits until they run.
func drainSetup(t *testing.T, env *kubetest.Env, kubectl *kubetest.Kubectl, ns string) {
	t.Helper()
	kubectl.Must(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  replicas: 2
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web, drain: %[1]s}}
    spec:%[2]s
      containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent, drain: %[1]s}}
    spec:
      containers: [{name: c, image: nginx}]
`, ns, onDrainNode), "apply", "-n", ns, "-f", "-")
	podsOnNode(t, env, ns, "app=web", 2, drainNode)
	drainSetupWaitDS(t, env, ns, "app=agent")
}

// normalized is what a drain printed with its namespace as NS and the
// DaemonSet pods' random suffixes as *****, its middle lines sorted (see
// sortedMiddle).
func normalized(s, ns string) string {
	s = strings.ReplaceAll(s, ns, "NS")
	s = regexp.MustCompile(`agent-[a-z0-9]{5}`).ReplaceAllString(s, "agent-*****")
	if s == "" {
		return s
	}
	return sortedMiddle(s)
}

// TestDrainLikeKubectlE2E compares k8s.cordon, k8s.uncordon and k8s.drain
// with kubectl's on the sandbox's second node: the lines each prints
// (cordoned, already cordoned, uncordoned, their dry runs), and a drain's
// pods evicted and ignored (a StatefulSet's pods evicted, a DaemonSet's
// ignored with kubectl's warning) on identical setups in two namespaces,
// first as a dry run (nothing moves), then for real (the pods move to
// kwok-node-0). Each drain keeps to its namespace's pods (pod_selector),
// so that other tests' pods on the node stay.
func TestDrainLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	uncordonAtEnd(t, env)
	other := env.CreateNamespace(t)

	// cordon and uncordon: each k8sh line against kubectl's in the same
	// state of the node.
	for _, st := range []struct{ star, kubectl, reset string }{
		{`k8s.cordon("` + drainNode + `", dry_run=True)`, "cordon --dry-run=server", ""},
		{`k8s.cordon("node/` + drainNode + `")`, "cordon", "uncordon"},
		{`k8s.cordon("` + drainNode + `")`, "cordon", ""},
		{`k8s.uncordon({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "` + drainNode + `"}})`, "uncordon", "cordon"},
		{`k8s.uncordon(["` + drainNode + `"])`, "uncordon", ""},
	} {
		got := mustRepl(t, env, c, st.star)
		if st.reset != "" {
			kubectl.Must(t, "", st.reset, drainNode)
		}
		if want := kubectl.Must(t, "", append(strings.Fields(st.kubectl), drainNode)...); got != want {
			t.Errorf("%s printed %q, kubectl %s %q", st.star, got, st.kubectl, want)
		}
	}

	for _, ns := range []string{env.Namespace, other} {
		drainSetup(t, env, kubectl, ns)
	}
	drain := func(ns string, dry bool) (stdout, stderr string) {
		t.Helper()
		var cap captured
		src := fmt.Sprintf(`r = k8s.drain(%q, pod_selector="drain=%s", dry_run=%s)
if r.evicted != ["%[2]s/web-0", "%[2]s/web-1"]: fail(r.evicted)
if len(r.ignored) != 1 or not r.ignored[0].startswith("%[2]s/agent-"): fail(r.ignored)
`, drainNode, ns, map[bool]string{true: "True", false: "False"}[dry])
		if err := replRun(env, c, &cap, src); err != nil {
			t.Fatalf("%s: %v\n%s%s", src, err, cap.stdout(), cap.stderr())
		}
		return cap.stdout(), cap.stderr()
	}
	kubectlDrain := func(ns string, args ...string) (stdout, stderr string) {
		t.Helper()
		args = append([]string{"drain", drainNode, "--ignore-daemonsets", "--pod-selector=drain=" + ns, "--timeout=2m"}, args...)
		out, errOut, code := kubectl.Run("", args...)
		if code != 0 {
			t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out, errOut
	}
	compare := func(what, out, errOut, kout, kerr string) {
		t.Helper()
		if g, w := normalized(out, env.Namespace), normalized(kout, other); g != w {
			t.Errorf("%s printed:\n%s\nkubectl drain printed:\n%s", what, g, w)
		}
		if g, w := normalized(errOut, env.Namespace), normalized(kerr, other); g != w {
			t.Errorf("%s warned:\n%s\nkubectl drain warned:\n%s", what, g, w)
		}
		t.Logf("%s and kubectl drain printed:\n%s%s", what, normalized(kout, other), normalized(kerr, other))
	}

	// A dry run: nothing is cordoned, nothing moves.
	out, errOut := drain(env.Namespace, true)
	kout, kerr := kubectlDrain(other, "--dry-run=server")
	compare("k8s.drain(dry_run=True)", out, errOut, kout, kerr)
	podsOnNode(t, env, env.Namespace, "app=web", 2, drainNode)

	// For real: the StatefulSet's pods move to kwok-node-0.
	out, errOut = drain(env.Namespace, false)
	podsOnNode(t, env, env.Namespace, "app=web", 2, "")
	kubectl.Must(t, "", "uncordon", drainNode)
	kout, kerr = kubectlDrain(other)
	compare("k8s.drain", out, errOut, kout, kerr)
	podsOnNode(t, env, other, "app=web", 2, "")

	runStar(t, c, `
assert.fails(lambda: k8s.drain(), "k8s.drain: which node\\? give a name or selector=")
assert.fails(lambda: k8s.drain("deploy/web"), 'k8s.drain: "deploy/web" is not a node')
assert.fails(lambda: k8s.drain("nope"), 'k8s.drain: node/nope: nodes "nope" not found')
assert.fails(lambda: k8s.cordon(["a"], selector="x=y"), "give nodes or selector=, not both")
assert.fails(lambda: k8s.drain("`+drainNode+`", grace_period=-2), "grace_period must be a non-negative int")
assert.eq([n.metadata.name for n in k8s.cordon(selector="kubernetes.io/hostname=`+drainNode+`", dry_run=True)], ["`+drainNode+`"])
`)
	runStarSession(t, env, &Session{Cluster: c, ReadOnly: true}, `
assert.fails(lambda: k8s.drain("`+drainNode+`"), 'k8s.drain: context "sandbox" is read-only \\(--read-only\\): refusing to drain node/`+drainNode+`')
assert.fails(lambda: k8s.cordon("`+drainNode+`"), "refusing to cordon node/`+drainNode+`")
`)
}

// TestDrainPDBE2E drains a node whose pods a PodDisruptionBudget keeps
// (minAvailable 2 of 2): the evictions are refused and retried, each
// refusal printed as kubectl prints it (the same line as a kubectl drain
// of the same pods, which the server refuses too) followed by the
// budget's own reason, which names it. Once the budget allows one
// disruption (minAvailable 1), the drain proceeds: one pod, then the
// other once its replacement is Ready elsewhere.
func TestDrainPDBE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	uncordonAtEnd(t, env)
	ns := env.Namespace
	kubectl.Must(t, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: guarded}
spec:
  replicas: 2
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded, drain: %[1]s}}
    spec:%[2]s
      containers: [{name: c, image: nginx}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: guarded}}
`, ns, onDrainNode), "apply", "-f", "-")
	podsOnNode(t, env, ns, "app=guarded", 2, drainNode)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pdb, err := env.Clientset.PolicyV1().PodDisruptionBudgets(ns).Get(context.Background(), "guarded", metav1.GetOptions{})
		if err == nil && pdb.Status.ObservedGeneration == pdb.Generation && pdb.Status.CurrentHealthy == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the PodDisruptionBudget never saw its 2 pods: %v", err)
		}
	}
	// kubectl's words for a refused eviction: a server-side dry run of the
	// same drain, which the budget refuses until its timeout.
	_, kerr, code := kubectl.Run("", "drain", drainNode, "--pod-selector=drain="+ns, "--dry-run=server", "--timeout=6s")
	if code == 0 || !strings.Contains(kerr, "(will retry after 5s)") {
		t.Fatalf("kubectl drain --dry-run=server of pods a budget keeps: exit %d\n%s", code, kerr)
	}
	refused := map[string]bool{}
	for _, l := range strings.Split(kerr, "\n") {
		if strings.HasPrefix(l, "error when evicting pods/") {
			refused[l] = true
		}
	}

	var cap captured
	done := make(chan error, 1)
	go func() {
		done <- replRun(env, c, &cap, fmt.Sprintf(`r = k8s.drain(%q, pod_selector="drain=%s", timeout="3m")
if sorted(r.evicted) != r.evicted or len(r.evicted) != 2: fail(r.evicted)
`, drainNode, ns))
	}()
	const reason = " The disruption budget guarded needs 2 healthy pods and has 2 currently"
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(cap.stderr(), reason); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no refused eviction after 60s:\n%s%s", cap.stdout(), cap.stderr())
		}
	}
	for _, l := range strings.Split(cap.stderr(), "\n") {
		if !strings.HasPrefix(l, "error when evicting pods/") {
			continue
		}
		if !strings.HasSuffix(l, reason) || !refused[strings.TrimSuffix(l, reason)] {
			t.Errorf("k8s.drain printed\n  %s\nwant one of kubectl's lines followed by %q:\n%s", l, reason, kerr)
		}
	}
	kubectl.Must(t, "", "patch", "pdb", "guarded", "--type=merge", "-p", `{"spec":{"minAvailable":1}}`)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("k8s.drain: %v\n%s%s", err, cap.stdout(), cap.stderr())
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("k8s.drain did not end 3 minutes after the budget allowed it:\n%s%s", cap.stdout(), cap.stderr())
	}
	out := cap.stdout()
	if !strings.HasPrefix(out, "node/"+drainNode+" cordoned\n") || !strings.HasSuffix(out, "node/"+drainNode+" drained\n") || strings.Count(out, " evicted\n") != 2 {
		t.Errorf("k8s.drain printed:\n%s", out)
	}
	podsOnNode(t, env, ns, "app=guarded", 2, "")
	t.Logf("k8s.drain printed:\n%s%s", out, cap.stderr())
}

// TestDrainRefusalsLikeKubectlE2E compares, as server-side dry runs (the
// node is not cordoned, nothing moves), what k8s.drain and kubectl drain
// say of the pods a drain refuses without a flag, and with it: a pod that
// no controller manages (force), a pod with an emptyDir volume
// (delete_emptydir_data), DaemonSet pods (ignore_daemonsets=False), and
// deleting instead of evicting (disable_eviction).
func TestDrainRefusalsLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	kubectl.Must(t, fmt.Sprintf(`
apiVersion: v1
kind: Pod
metadata: {name: bare, labels: {case: bare}}
spec:
  nodeName: %[1]s
  containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: scratch}
spec:
  replicas: 1
  selector: {matchLabels: {case: scratch}}
  template:
    metadata: {labels: {case: scratch}}
    spec:%[2]s
      containers: [{name: c, image: nginx, volumeMounts: [{name: tmp, mountPath: /tmp}]}]
      volumes: [{name: tmp, emptyDir: {}}]
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {case: ds}}
  template:
    metadata: {labels: {case: ds}}
    spec: {containers: [{name: c, image: nginx}]}
`, drainNode, onDrainNode), "apply", "-f", "-")
	podsOnNode(t, env, env.Namespace, "case=bare", 1, drainNode)
	podsOnNode(t, env, env.Namespace, "case=scratch", 1, drainNode)
	drainSetupWaitDS(t, env, env.Namespace, "case=ds")
	suffix := regexp.MustCompile(`(scratch|agent)-[a-z0-9]{5}`)
	norm := func(s string) string { return suffix.ReplaceAllString(s, "$1-*****") }
	for _, ch := range []struct{ star, kubectl string }{
		{`pod_selector="case=bare"`, "--pod-selector=case=bare --ignore-daemonsets"},
		{`pod_selector="case=bare", force=True`, "--pod-selector=case=bare --ignore-daemonsets --force"},
		{`pod_selector="case=bare", force=True, disable_eviction=True, grace_period=0`, "--pod-selector=case=bare --ignore-daemonsets --force --disable-eviction --grace-period=0"},
		{`pod_selector="case=scratch"`, "--pod-selector=case=scratch --ignore-daemonsets"},
		{`pod_selector="case=scratch", delete_emptydir_data=True`, "--pod-selector=case=scratch --ignore-daemonsets --delete-emptydir-data"},
		{`pod_selector="case=ds", ignore_daemonsets=False`, "--pod-selector=case=ds"},
	} {
		var cap captured
		err := replRun(env, c, &cap, fmt.Sprintf("k8s.drain(%q, %s, dry_run=True)", drainNode, ch.star))
		kout, kerr, code := kubectl.Run("", append([]string{"drain", drainNode, "--dry-run=server", "--timeout=1m"}, strings.Fields(ch.kubectl)...)...)
		if (err != nil) != (code != 0) {
			t.Fatalf("k8s.drain(%s): %v; kubectl drain %s: exit %d %s", ch.star, err, ch.kubectl, code, kerr)
		}
		t.Logf("k8s.drain(%s): %v\n%s%s", ch.star, err, cap.stdout(), cap.stderr())
		if err != nil {
			// kubectl ends with "error: cannot delete ...: NS/bare";
			// k8sh: "k8s.drain: node/NODE: cannot delete ...: NS/bare".
			lines := strings.Split(strings.TrimSpace(kerr), "\n")
			want := strings.TrimPrefix(lines[len(lines)-1], "error: ")
			if !strings.HasSuffix(norm(err.Error()), ": "+norm(want)) {
				t.Errorf("k8s.drain(%s) failed with\n  %v\nkubectl drain %s with\n  %s", ch.star, err, ch.kubectl, want)
			}
			continue
		}
		if g, w := norm(sortedMiddle(cap.stdout())), norm(sortedMiddle(kout)); g != w {
			t.Errorf("k8s.drain(%s) printed:\n%s\nkubectl drain %s:\n%s", ch.star, g, ch.kubectl, w)
		}
		if g, w := norm(cap.stderr()), norm(kerr); g != w {
			t.Errorf("k8s.drain(%s) warned:\n%s\nkubectl drain %s:\n%s", ch.star, g, ch.kubectl, w)
		}
	}
	podsOnNode(t, env, env.Namespace, "case=bare", 1, drainNode)
	podsOnNode(t, env, env.Namespace, "case=scratch", 1, drainNode)
}

// drainSetupWaitDS waits until the DaemonSet pods of ns that selector
// matches run on every node.
func drainSetupWaitDS(t *testing.T, env *kubetest.Env, ns, selector string) {
	t.Helper()
	nodes, err := env.Clientset.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		pods, err := env.Clientset.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			t.Fatal(err)
		}
		running := 0
		for _, p := range pods.Items {
			if p.Status.Phase == corev1.PodRunning {
				running++
			}
		}
		if running == len(nodes.Items) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the DaemonSet pods %s: %d running, want %d", selector, running, len(nodes.Items))
		}
	}
}

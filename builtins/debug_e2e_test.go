package builtins

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

func createPlainPod(t *testing.T, env *kubetest.Env, name string) {
	t.Helper()
	_, err := env.Clientset.CoreV1().Pods(env.Namespace).Create(context.Background(), &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "plain"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "nginx"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
}

// ephemeral is the pod's spec.ephemeralContainers as the server has them.
func ephemeral(t *testing.T, env *kubetest.Env, pod string) string {
	t.Helper()
	p, err := env.Clientset.CoreV1().Pods(env.Namespace).Get(context.Background(), pod, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p.Spec.EphemeralContainers)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDebugLikeKubectlE2E: the ephemeral containers k8s.debug adds equal
// those kubectl debug adds to an identical pod for the same arguments
// (names given), for every profile, a target, a command, a TTY and env.
func TestDebugLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	e := *env
	e.Namespace = kubetest.PrefixNamespace(t, env, "p18-")
	createPlainPod(t, &e, "ours")
	createPlainPod(t, &e, "theirs")
	k := e.Kubectl(t)
	cases := []struct {
		kubectl []string
		star    string
	}{
		{[]string{"--image=busybox", "-i"}, `image="busybox"`},
		{[]string{"--image=busybox", "--target=web", "--profile=legacy", "--", "sleep", "1d"}, `target_container="web", profile="legacy", command=["sleep", "1d"], stdin=False`},
		{[]string{"--image=alpine", "-i", "-t", "--profile=baseline", "--env=A=b"}, `"alpine", tty=True, profile="baseline", env={"A": "b"}`},
		{[]string{"--image=busybox", "--profile=restricted"}, `stdin=False, profile="restricted"`},
		{[]string{"--image=busybox", "--profile=netadmin", "-i"}, `profile="netadmin"`},
		{[]string{"--image=busybox", "--profile=sysadmin", "-i", "--", "sh", "-c", "echo hi; sleep 1d"}, `profile="sysadmin", command="echo hi; sleep 1d"`},
	}
	for i, c := range cases {
		name := fmt.Sprintf("dbg-%d", i)
		args := append([]string{"debug", "theirs", "-c", name, "--attach=false", "-q"}, c.kubectl...)
		if _, stderr, code := k.Run("", args...); code != 0 {
			t.Fatalf("kubectl %s: %d %s", strings.Join(args, " "), code, stderr)
		}
		out, announced := runSession(t, &Session{Cluster: e2eClient(t, &e, "sandbox")}, fmt.Sprintf(`
p = k8s.debug("ours", %s, container=%q)
print(json.encode(p.spec.ephemeralContainers))
`, c.star, name), nil)
		theirs, ours := ephemeral(t, &e, "theirs"), ephemeral(t, &e, "ours")
		if ours != theirs {
			t.Errorf("case %d: k8s.debug(%s) added\n%s\nkubectl debug %s added\n%s", i, c.star, ours, strings.Join(c.kubectl, " "), theirs)
		}
		var returned, server any
		json.Unmarshal([]byte(out), &returned)
		json.Unmarshal([]byte(ours), &server)
		if fmt.Sprint(returned) != fmt.Sprint(server) {
			t.Errorf("case %d: returned %s, the server has %s", i, out, ours)
		}
		if want := fmt.Sprintf("pod/ours: debug container %s (%s) added\n", name, strings.TrimPrefix(c.kubectl[0], "--image=")); announced != want {
			t.Errorf("case %d: announced %q, want %q", i, announced, want)
		}
	}
	// A generated name, as kubectl's: debugger- and five characters.
	runSession(t, &Session{Cluster: e2eClient(t, &e, "sandbox")}, `
p = k8s.debug(k8s.get("pod", "ours"))
n = p.spec.ephemeralContainers[-1].name
assert.true(n.startswith("debugger-") and len(n) == len("debugger-") + 5, n)
q = k8s.debug("pod/ours", container="x")
assert.eq([c.name for c in q.spec.ephemeralContainers][-2:], [n, "x"])
`, nil)
}

// TestDebugSafetyE2E: refused read-only and protected without a yes,
// a dry run shows what it would add and adds nothing, bad arguments said
// before anything is sent.
func TestDebugSafetyE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	e := *env
	e.Namespace = kubetest.PrefixNamespace(t, env, "p18-")
	createPlainPod(t, &e, "p")
	before := ephemeral(t, &e, "p")
	c := func() Cluster { return e2eClient(t, &e, "sandbox") }
	runSession(t, &Session{Cluster: c(), ReadOnly: true}, `
assert.fails(lambda: k8s.debug("p"), 'k8s.debug: context "sandbox" is read-only \\(--read-only\\): refusing to add a debug container \\(busybox\\) to pod/p')
`, nil)
	runSession(t, &Session{Cluster: c(), Policy: &Policy{ReadOnly: []string{"sandbox"}}}, `
assert.fails(lambda: k8s.debug("p"), 'k8s.debug: context "sandbox" is read-only \\(read_only in the k8sh config\\)')
`, nil)
	runSession(t, &Session{Cluster: c(), Policy: &Policy{Protected: []string{"sandbox"}}}, `
assert.fails(lambda: k8s.debug("p"), 'k8s.debug: context "sandbox" is protected: refusing to add a debug container \\(busybox\\) to pod/p in sandbox/`+e.Namespace+` without --yes')
`, nil)
	runSession(t, &Session{Cluster: c()}, `
assert.fails(lambda: k8s.debug("p", profile="nope"), 'k8s.debug: unknown profile "nope" \\(want one of legacy, general, baseline, restricted, netadmin, sysadmin\\)')
assert.fails(lambda: k8s.debug("p", target_container="nope"), 'k8s.debug: pod/p: pod p has no container "nope" to target')
assert.fails(lambda: k8s.debug("p", container="web"), 'k8s.debug: pod/p: pod p already has a container named "web"')
assert.fails(lambda: k8s.debug("p", env={"A": 1}), 'k8s.debug: env: want a dict of str to str')
assert.fails(lambda: k8s.debug("p", command=[1]), 'k8s.debug: command: got int in the list, want str')
assert.fails(lambda: k8s.debug("p", image=""), 'k8s.debug: image must not be empty')
assert.fails(lambda: k8s.debug("missing"), 'k8s.debug: pod/missing: pods "missing" not found')
`, nil)
	out, announced := runSession(t, &Session{Cluster: c()}, `
p = k8s.debug("p", container="dry", dry_run=True)
print([c.name for c in p.spec.ephemeralContainers])
`, nil)
	if out != "[\"dry\"]\n" || announced != "pod/p: debug container dry (busybox) added (server dry run)\n" {
		t.Errorf("dry run: printed %q, announced %q", out, announced)
	}
	runSession(t, &Session{Cluster: c(), DryRun: true}, `
p = k8s.debug("p", container="dry2")
assert.eq([c.name for c in p.spec.ephemeralContainers], ["dry2"])
`, nil)
	if after := ephemeral(t, &e, "p"); after != before {
		t.Errorf("the refused and dry runs added %s", after)
	}
}

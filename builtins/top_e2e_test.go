package builtins

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestTopLikeKubectlE2E compares k8s.top with kubectl top byte for byte:
// the pods of a namespace, of all namespaces (by a label of this test),
// per container, sorted by cpu and by memory, one pod, without headers, and
// the nodes. Metrics are scraped now and then: a comparison that differs
// (or before the pods have metrics) is made again, for up to 60s.
func TestTopLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	kubectl.Must(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d19-top}
spec:
  replicas: 2
  selector: {matchLabels: {app: d19-top}}
  template:
    metadata: {labels: {app: d19-top}}
    spec:
      containers: [{name: a, image: nginx}, {name: b, image: busybox}]
`, "apply", "-f", "-")
	kubectl.Must(t, "", "rollout", "status", "deploy/d19-top", "--timeout", "60s")
	pod := strings.TrimPrefix(strings.Fields(kubectl.Must(t, "", "get", "pods", "-l", "app=d19-top", "-o", "name"))[0], "pod/")
	c := e2eClient(t, env, "sandbox")
	checks := []struct{ star, kubectl string }{
		{`k8s.top()`, "pod"},
		{`k8s.top("pods", all_namespaces=True, selector="app=d19-top")`, "pod -A -l app=d19-top"},
		{`k8s.top(containers=True)`, "pod --containers"},
		{`k8s.top(sort_by="cpu", containers=True)`, "pod --sort-by=cpu --containers"},
		{`k8s.top("po", sort_by="memory", no_headers=True)`, "pod --sort-by=memory --no-headers"},
		{fmt.Sprintf(`k8s.top("pod", %q)`, pod), "pod " + pod},
		{`k8s.top("nodes")`, "node"},
		{`k8s.top("node", sort_by="memory")`, "node --sort-by=memory"},
	}
	for _, ch := range checks {
		t.Run(ch.kubectl, func(t *testing.T) {
			args := append([]string{"top"}, strings.Fields(ch.kubectl)...)
			deadline := time.Now().Add(60 * time.Second)
			for {
				want, errOut, code := kubectl.Run("", args...)
				got, err := describeText(c, "str("+ch.star+")")
				if code == 0 && err == nil && want != "" && got == want {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s:\n%s (%v)\nkubectl top %s: exit %d\n%s%s", ch.star, got, err, ch.kubectl, code, want, errOut)
				}
				time.Sleep(time.Second)
			}
		})
	}
	runStar(t, c, `
rows = k8s.top(containers=True)
assert.eq(len(rows), 2)
for r in rows:
    assert.true(r.name.startswith("d19-top-"))
    assert.eq(r.namespace, "`+env.Namespace+`")
    assert.eq(sorted([c.name for c in r.containers]), ["a", "b"])
    assert.eq(r.cpu, r.containers[0].cpu + r.containers[1].cpu)
    assert.true(r.memory >= 1024 * 1024)
assert.true(k8s.top("nodes")[0].cpu > 0)
assert.fails(lambda: k8s.top(sort_by="name"), 'k8s.top: sort_by="name": want "cpu" or "memory"')
assert.fails(lambda: k8s.top("deploy"), 'k8s.top: kind "deploy": want "pods" or "nodes"')
`)
}

// TestTopNoMetricsYetE2E: a namespace whose pods have no metrics yet fails
// as kubectl top pod fails ("metrics not available yet"), one without pods
// does not fail.
func TestTopNoMetricsYetE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	c := e2eClient(t, env, "sandbox")
	if got, err := describeText(c, "str(len(k8s.top()))"); err != nil || got != "\"0\"\n" {
		t.Fatalf("k8s.top() of a namespace without pods: %q, %v", got, err)
	}
	kubectl.Must(t, "", "run", "fresh", "--image=nginx")
	for i := 0; i < 10; i++ {
		_, errOut, code := kubectl.Run("", "top", "pod")
		_, err := describeText(c, "str(k8s.top())")
		if code == 0 || err == nil {
			continue // a scrape came between the two: ask again
		}
		if want := strings.TrimPrefix(strings.TrimSpace(errOut), "error: "); !strings.HasSuffix(err.Error(), "k8s.top: "+want) {
			t.Fatalf("k8s.top: %v; kubectl top pod: %s", err, errOut)
		}
		return
	}
	t.Skip("the scrape kept giving the new pod metrics before both could ask")
}

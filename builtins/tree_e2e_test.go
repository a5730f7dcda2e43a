package builtins

import (
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// TestTreeE2E builds the ownership tree of a Deployment (its ReplicaSet and
// two Pods, found by ownerReferences), checks it as data and as printed
// text (AGE aside), and follows k8s.owners from a Pod up to the
// Deployment; a Service owns only its EndpointSlices, and no one owns the Deployment.
func TestTreeE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	ns := env.Namespace
	kubectl.Must(t, `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d19-tree}
spec:
  replicas: 2
  selector: {matchLabels: {app: d19-tree}}
  template:
    metadata: {labels: {app: d19-tree}}
    spec:
      containers: [{name: a, image: nginx}]
---
apiVersion: v1
kind: Service
metadata: {name: d19-tree}
spec:
  selector: {app: d19-tree}
  ports: [{port: 80}]
`, "apply", "-f", "-")
	kubectl.Must(t, "", "rollout", "status", "deploy/d19-tree", "--timeout", "60s")
	rs := strings.TrimSpace(kubectl.Must(t, "", "get", "rs", "-l", "app=d19-tree", "-o", "jsonpath={.items[0].metadata.name}"))
	pods := strings.Fields(kubectl.Must(t, "", "get", "pods", "-l", "app=d19-tree", "--sort-by", ".metadata.name", "-o", "jsonpath={.items[*].metadata.name}"))
	if len(pods) != 2 {
		t.Fatalf("pods: %v", pods)
	}
	c := e2eClient(t, env, "sandbox")
	out := runStar(t, c, `
t = k8s.tree("deploy", "d19-tree")
assert.eq(t.object.kind, "Deployment")
assert.eq([c.object.metadata.name for c in t.children], ["`+rs+`"])
assert.eq([p.object.metadata.name for p in t.children[0].children], ["`+pods[0]+`", "`+pods[1]+`"])
assert.eq(t.children[0].children[0].children, [])
assert.eq([o.kind for o in k8s.owners("pod", "`+pods[0]+`")], ["ReplicaSet", "Deployment"])
assert.eq(k8s.owners(t.object), [])
assert.eq([c.object.kind for c in k8s.tree("svc/d19-tree").children if c.object.kind != "EndpointSlice"], [])
assert.fails(lambda: k8s.tree("deploy"), "k8s.tree: which deploy\\? give a name")
assert.fails(lambda: k8s.tree("deploy", "d19-nope"), 'k8s.tree: deployments.apps "d19-nope" not found')
print(t)
`)
	// Each line's fields but the AGE, and the columns' padding: two spaces
	// as kubectl-tree pads them.
	var got []string
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		f := strings.Fields(l)
		got = append(got, strings.Join(f[:len(f)-1], " "))
		if !strings.Contains(l, "  ") || strings.Contains(l, "\t") {
			t.Errorf("line %q: not padded with spaces", l)
		}
	}
	want := []string{
		"NAMESPACE NAME READY REASON",
		ns + " Deployment/d19-tree True",
		ns + " └─ReplicaSet/" + rs + " True",
		ns + " ├─Pod/" + pods[0] + " True",
		ns + " └─Pod/" + pods[1] + " True",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("k8s.tree printed:\n%s\nwant (ages and padding aside):\n%s", out, strings.Join(want, "\n"))
	}
	if !strings.Contains(out, "\n"+ns+"    ├─Pod/") {
		t.Errorf("k8s.tree printed the pods without their indent:\n%s", out)
	}
}

package builtins

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// d19Seed is what TestDescribeLikeKubectlE2E describes: a Deployment with
// its Service, and a resource of the test's own CRD (GROUP).
const d19Seed = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: d19-web, labels: {app: d19-web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: d19-web}}
  template:
    metadata: {labels: {app: d19-web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
---
apiVersion: v1
kind: Service
metadata: {name: d19-web, labels: {app: d19-web}}
spec:
  selector: {app: d19-web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: d19gadgets.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {plural: d19gadgets, singular: d19gadget, kind: D19Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`

// describeText runs src (an expression) on cluster c and returns its value
// as the REPL echoes it, with the line break the REPL ends it with.
func describeText(c Cluster, src string) (string, error) {
	thread := &starlark.Thread{Name: "describe"}
	SetSession(thread, &Session{Cluster: c})
	sys.SetContext(thread, context.Background())
	v, err := starlark.EvalOptions(starOptions, thread, "describe.star", src, Globals(nil))
	if err != nil {
		return "", err
	}
	if s, ok := v.(starlark.String); !ok || s == "" {
		return string(s), nil
	}
	return REPLEcho(thread, v) + "\n", nil
}

// TestDescribeLikeKubectlE2E compares k8s.describe with kubectl describe
// byte for byte: a Pod, a Deployment, a Node, a Service, a CRD's resource,
// every pod a selector selects, a name prefix, and without events; and the
// errors for a missing object and an unknown kind. Events and ages print as
// "5s ago": a comparison that differs is made again (kubectl before and
// after k8sh, up to four times) until they print the same.
func TestDescribeLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	ns := env.Namespace
	group := "d19" + ns[len(ns)-5:] + ".k8sh.test"
	seed := strings.ReplaceAll(d19Seed, "GROUP", group)
	kubectl.Must(t, seed, "apply", "-f", "-")
	t.Cleanup(func() { kubectl.Run("", "delete", "crd", "d19gadgets."+group, "--wait=false") })
	kubectl.Must(t, "apiVersion: "+group+"/v1\nkind: D19Gadget\nmetadata: {name: d19-g1, labels: {app: d19-web}}\nspec: {size: 3, parts: [a, b]}\n", "apply", "-f", "-")
	kubectl.Must(t, "", "rollout", "status", "deploy/d19-web", "--timeout", "60s")
	pod := strings.TrimPrefix(strings.TrimSpace(kubectl.Must(t, "", "get", "pods", "-l", "app=d19-web", "-o", "name", "--sort-by", ".metadata.name")), "pod/")
	pod, _, _ = strings.Cut(pod, "\n")
	node := strings.TrimSpace(kubectl.Must(t, "", "get", "pod", pod, "-o", "jsonpath={.spec.nodeName}"))
	c := e2eClient(t, env, "sandbox")

	checks := []struct{ star, kubectl string }{
		{fmt.Sprintf(`k8s.describe("pod", %q)`, pod), "pod " + pod},
		{`k8s.describe("deploy/d19-web")`, "deploy/d19-web"},
		{`k8s.describe(k8s.get("svc", "d19-web"))`, "svc d19-web"},
		{fmt.Sprintf(`k8s.describe("node", %q)`, node), "node " + node},
		{`k8s.describe("d19gadgets", "d19-g1")`, "d19gadgets d19-g1"},
		{`k8s.describe("pods", selector={"app": "d19-web"})`, "pods -l app=d19-web"},
		{`k8s.describe("deploy,svc", selector="app=d19-web")`, "deploy,svc -l app=d19-web"},
		{`k8s.describe("pod", "d19-web")`, "pod d19-web"}, // a prefix
		{fmt.Sprintf(`k8s.describe("pod", %q, show_events=False)`, pod), "pod " + pod + " --show-events=false"},
		{`k8s.describe("pods", selector="app=d19-web", show_events=True)`, "pods -l app=d19-web --show-events=true"},
		{`k8s.describe("pods", selector="none=here")`, "pods -l none=here"},
	}
	for _, ch := range checks {
		t.Run(ch.kubectl, func(t *testing.T) {
			args := append([]string{"describe"}, strings.Fields(ch.kubectl)...)
			var got, want1, want2 string
			for try := 0; try < 4; try++ {
				if try > 0 {
					time.Sleep(time.Second)
				}
				out1, errOut, code := kubectl.Run("", args...)
				if code != 0 {
					t.Fatalf("kubectl %s: exit %d: %s", ch.kubectl, code, errOut)
				}
				var err error
				if got, err = describeText(c, ch.star); err != nil {
					t.Fatalf("%s: %v", ch.star, err)
				}
				want1 = out1
				want2, _, _ = kubectl.Run("", args...)
				if got == want1 || got == want2 {
					return
				}
			}
			t.Errorf("%s:\n%s\nkubectl describe %s:\n%s", ch.star, got, ch.kubectl, want2)
		})
	}

	runStar(t, c, `
assert.fails(lambda: k8s.describe("pod", "d19-nope"), r'k8s.describe: pods "d19-nope" not found in namespace "`+ns+`" \(NotFound\)')
assert.fails(lambda: k8s.describe("d19podz", "x"), 'k8s.describe: the server doesn.t have a resource type "d19podz"')
assert.fails(lambda: k8s.describe("pods", "x", selector="a=b"), r'k8s.describe: a name \("x"\) and a selector or all_namespaces: give one')
assert.fails(lambda: k8s.describe("pods", show_events="yes"), 'k8s.describe: for parameter show_events: got string, want bool or None')
assert.fails(lambda: k8s.describe(3), 'k8s.describe: got int, want a kind')
assert.eq(type(k8s.describe("svc", "d19-web")), "string")
`)
	// kubectl's words for the same errors.
	if _, errOut, code := kubectl.Run("", "describe", "pod", "d19-nope"); code != 1 || errOut != "Error from server (NotFound): pods \"d19-nope\" not found\n" {
		t.Errorf("kubectl describe of a missing pod: exit %d, %q", code, errOut)
	}
}

// BenchmarkDescribePodE2E is k8s.describe of one pod, in one process (the
// client, its discovery and describers warm after the first).
func BenchmarkDescribePodE2E(b *testing.B) {
	env := kubetest.Sandbox(b)
	kubectl := env.Kubectl(b)
	kubectl.Must(b, "apiVersion: v1\nkind: Pod\nmetadata: {name: d19-bench}\nspec: {containers: [{name: c, image: nginx}]}\n", "apply", "-f", "-")
	flags := kube.NewConfigFlags()
	kc, ns, dir := env.Kubeconfig, env.Namespace, b.TempDir()
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kc, &ns, &dir
	c := kube.NewClient(flags)
	if _, err := describeText(c, `k8s.describe("pod", "d19-bench")`); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := describeText(c, `k8s.describe("pod", "d19-bench")`); err != nil {
			b.Fatal(err)
		}
	}
}

package builtins

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// e2eClient is a k8sh client of the sandbox in env's namespace, as the
// given context, with a discovery cache of the test's own.
func e2eClient(t *testing.T, env *kubetest.Env, context string) *kube.Client {
	flags := kube.NewConfigFlags()
	kc, ns, dir := env.Kubeconfig, env.Namespace, t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &context, &dir
	return kube.NewClient(flags)
}

// runStar runs src with the assert module against cluster c; it returns
// what the program printed.
func runStar(t *testing.T, c Cluster, src string) string {
	t.Helper()
	var out strings.Builder
	thread := &starlark.Thread{
		Name:  t.Name(),
		Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		},
	}
	starlarktest.SetReporter(thread, t)
	SetSession(thread, &Session{Cluster: c})
	sys.SetContext(thread, context.Background())
	src = "load('assert.star', 'assert')\n" + src
	if _, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, Globals(nil)); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			t.Fatal(ee.Backtrace())
		}
		t.Fatal(err)
	}
	return out.String()
}

func createConfigMaps(t *testing.T, env *kubetest.Env, n int, labels map[string]string, prefix string) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: prefix + itoa(i), Labels: labels},
			Data:       map[string]string{"i": itoa(i)},
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestReadE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	createConfigMaps(t, env, 3, map[string]string{"app": "web", "tier": "fe"}, "web-")
	createConfigMaps(t, env, 2, map[string]string{"app": "db"}, "db-")

	runStar(t, c, `
ns = "`+env.Namespace+`"
# one object by name, every spelling of the kind
for kind in ["configmaps", "configmap", "cm", "ConfigMap", "configmaps.v1.", "ConfigMap.v1."]:
    assert.eq(k8s.get(kind, "web-0").data.i, "0")
assert.eq(k8s.get("cm/web-1").metadata.name, "web-1")
assert.eq(k8s.get("cm", "web-2", namespace=ns).metadata.namespace, ns)
assert.eq(str(k8s.get("cm", "web-0")), "<ConfigMap %s/web-0>" % ns)

# lists: selectors as str and dict, field selectors, where, limit
assert.eq(len(k8s.get("cm", selector="app=web")), 3)
assert.eq(len(k8s.list("cm", selector={"app": "db"})), 2)
assert.eq(len(k8s.list("cm", selector="app in (web,db),tier!=fe")), 2)
assert.eq([c.metadata.name for c in k8s.list("cm", fields="metadata.name=db-1")], ["db-1"])
assert.eq([c.metadata.name for c in k8s.list("cm", fields={"metadata.name": "web-2"})], ["web-2"])
assert.eq(sorted([c.metadata.name for c in k8s.list("cm", where=lambda c: c.data.get("i") == "1")]), ["db-1", "web-1"])
assert.eq(len(k8s.list("cm", selector="app", limit=2)), 2)
assert.eq(len(k8s.list("cm", selector="app=nope")), 0)
assert.true(len(k8s.list("namespaces")) >= 4)
assert.true(len([c for c in k8s.list("cm", all_namespaces=True) if c.metadata.namespace == ns]) >= 5)

# default=, exists
assert.eq(k8s.get("cm", "nope", default=None), None)
assert.eq(k8s.exists("cm", "web-0"), True)
assert.eq(k8s.exists("configmap", "nope"), False)
assert.fails(lambda: k8s.get("cm", "nope"), 'k8s.get: configmaps "nope" not found in namespace "%s"' % ns)
assert.fails(lambda: k8s.get("cm", "web-0", selector="a=b"), "cannot be used with a name")
assert.fails(lambda: k8s.get("deploymnets"), 'k8s.get: the server doesn\'t have a resource type "deploymnets" \\(did you mean "deployments"')
assert.fails(lambda: k8s.list("cm", selector=3), 'k8s.list: for parameter "selector": got int, want str or dict')
assert.fails(lambda: k8s.list("cm", selector="a b"), 'k8s.list: invalid label selector "a b"')
assert.fails(lambda: k8s.list("cm", fields="x"), 'k8s.list: invalid field selector "x"')

# resources, as kubectl api-resources
pods = [r for r in k8s.resources() if r.name == "pods"][0]
assert.eq((pods.kind, pods.group, pods.version, pods.namespaced, pods.shortnames), ("Pod", "", "v1", True, ["po"]))
assert.true("list" in pods.verbs)
deploy = [r for r in k8s.resources() if r.name == "deployments"][0]
assert.eq(deploy.group, "apps")
`)
}

func TestEventsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	createConfigMaps(t, env, 1, nil, "ev-")
	ctx := context.Background()
	now := time.Now()
	for i, reason := range []string{"Second", "First", "Third"} {
		// Recorded out of order: k8s.events sorts by time.
		at := now.Add(time.Duration([]int{2, 1, 3}[i]) * time.Second)
		_, err := env.Clientset.CoreV1().Events(env.Namespace).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: "ev-0." + reason},
			InvolvedObject: corev1.ObjectReference{Kind: "ConfigMap", Name: "ev-0", Namespace: env.Namespace, APIVersion: "v1"},
			Reason:         reason, Message: "about ev-0", Type: "Normal",
			FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at),
		}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	runStar(t, c, `
assert.eq([e.reason for e in k8s.events("cm", "ev-0")], ["First", "Second", "Third"])
assert.eq([e.reason for e in k8s.events(k8s.get("cm", "ev-0"))], ["First", "Second", "Third"])
assert.eq(k8s.events("configmap/nope"), [])
assert.fails(lambda: k8s.events("cm"), "k8s.events: which cm\\? give a name")
`)
}

// countingCluster counts the pages read through it.
type countingCluster struct {
	Cluster
	pages atomic.Int32
}

func (c *countingCluster) ListRowsPage(ctx context.Context, kind string, opts kube.ListOptions, cont string, have int64) (*kube.RowList, error) {
	c.pages.Add(1)
	return c.Cluster.ListRowsPage(ctx, kind, opts, cont, have)
}

func TestIterPagesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	n := kube.PageSize + 20
	createConfigMaps(t, env, n, map[string]string{"bulk": "yes"}, "bulk-")
	cc := &countingCluster{Cluster: e2eClient(t, env, "sandbox")}
	runStar(t, cc, `
it = k8s.iter("cm", selector="bulk=yes")
n = 0
names = {}
for c in it:
    n += 1
    names[c.metadata.name] = True
assert.eq(n, `+itoa(n)+`)
assert.eq(len(names), n)
`)
	// The server may return short pages, never longer ones.
	if got, min := cc.pages.Load(), int32(n/kube.PageSize+1); got < min {
		t.Errorf("read %d pages, want >= %d (page by page, %d a page)", got, min, kube.PageSize)
	}
	cc.pages.Store(0)
	runStar(t, cc, `
# where and limit work across pages
assert.eq(len([c for c in k8s.iter("cm", selector="bulk=yes", where=lambda c: c.metadata.name.endswith("7"))]), `+itoa(countSuffix7(n))+`)
assert.eq(len(list(k8s.iter("cm", selector="bulk=yes", limit=510))), 510)
assert.fails(lambda: k8s.iter("nopes"), "k8s.iter: the server doesn't have a resource type")
`)
	if cc.pages.Load() < 4 {
		t.Errorf("where and limit read %d pages, want >= 4", cc.pages.Load())
	}
}

func countSuffix7(n int) int {
	c := 0
	for i := 0; i < n; i++ {
		if i%10 == 7 {
			c++
		}
	}
	return c
}

func TestViewerForbiddenE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	viewer := e2eClient(t, env, "sandbox-viewer")
	createConfigMaps(t, env, 1, nil, "v-")
	runStar(t, viewer, `
assert.eq(k8s.get("cm", "v-0").data.i, "0")   # the view role reads ConfigMaps
assert.fails(lambda: k8s.get("secrets"), 'k8s.get: secrets is forbidden: User "viewer" cannot list resource "secrets" in API group "" in the namespace "`+env.Namespace+`"')
`)
}

func TestCRDE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	// Warm the discovery cache before the CRD exists.
	runStar(t, c, `assert.eq(len(k8s.get("cm", selector="none=here")), 0)`)

	dyn := dynamic.NewForConfigOrDie(env.Config)
	crdGVR := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	group := "e2e" + strings.ReplaceAll(env.Namespace, "-", "") + ".k8sh.io"
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets." + group},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": []any{"wdg"}},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				"additionalPrinterColumns": []any{map[string]any{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}},
			}},
		},
	}}
	ctx := context.Background()
	if _, err := dyn.Resource(crdGVR).Create(ctx, crd, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dyn.Resource(crdGVR).Delete(context.Background(), "widgets."+group, metav1.DeleteOptions{}) })
	wgvr := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	w := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": group + "/v1", "kind": "Widget",
		"metadata": map[string]any{"name": "w1"}, "spec": map[string]any{"size": int64(3)},
	}}
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := dyn.Resource(wgvr).Namespace(env.Namespace).Create(ctx, w, metav1.CreateOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating a Widget: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out := runStar(t, c, `
for kind in ["widgets", "widget", "wdg", "Widget", "widgets.`+group+`", "widget.v1.`+group+`"]:
    assert.eq(k8s.get(kind, "w1").spec.size, 3)
k8s.print(k8s.list("wdg"))
`)
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "SIZE") || !strings.Contains(out, "w1") {
		t.Errorf("k8s.print of a CRD's list lacks its printer column:\n%s", out)
	}
}

func TestPrintE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	createConfigMaps(t, env, 2, map[string]string{"p": "1"}, "p-")
	out := runStar(t, c, `
cms = k8s.list("cm", selector="p=1")
k8s.print(cms)
k8s.print(cms, output="name")
k8s.print(cms[0], output="json")
k8s.print(cms[1], output="yaml")
assert.fails(lambda: k8s.print(cms, output="xml"), 'k8s.print: unable to match a printer suitable for the output format "xml", allowed formats are: custom-columns,')
`)
	for _, want := range []string{
		"NAME   DATA   AGE\np-0    1      ", // kubectl's columns for ConfigMaps
		"configmap/p-0\nconfigmap/p-1\n",
		`"name": "p-0"`,
		"kind: ConfigMap\nmetadata:\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "managedFields") {
		t.Errorf("managedFields shown:\n%s", out)
	}
}

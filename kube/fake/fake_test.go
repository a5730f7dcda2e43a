package fake

import (
	"context"
	"fmt"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	discoveryclient "k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func newClient(t *testing.T, objs ...map[string]any) (*Server, dynamic.Interface) {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Add(objs...); err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(&rest.Config{Host: "http://fake.invalid", Transport: Transport(s)})
	if err != nil {
		t.Fatal(err)
	}
	return s, dyn
}

func cm(name string, labels map[string]any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": name, "namespace": "default", "labels": labels}}
}

func TestPaging(t *testing.T) {
	var objs []map[string]any
	for i := range 7 {
		objs = append(objs, cm(fmt.Sprintf("cm-%d", i), nil))
	}
	_, dyn := newClient(t, objs...)
	ctx := context.Background()
	var names []string
	cont := ""
	pages := 0
	for {
		l, err := dyn.Resource(cmGVR).Namespace("default").List(ctx, metav1.ListOptions{Limit: 3, Continue: cont})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, it := range l.Items {
			names = append(names, it.GetName())
		}
		if cont = l.GetContinue(); cont == "" {
			break
		}
	}
	if pages != 3 || len(names) != 7 || names[0] != "cm-0" || names[6] != "cm-6" {
		t.Errorf("pages %d, names %v", pages, names)
	}
}

// TestWatchSelector: an object that starts to match a watch's selector is
// ADDED for it, one that stops DELETED, as the apiserver's watch says; a
// watch from a resourceVersion gets what happened after it.
func TestWatchSelector(t *testing.T) {
	_, dyn := newClient(t, cm("a", map[string]any{"app": "web"}))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res := dyn.Resource(cmGVR).Namespace("default")
	l, err := res.List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("list: %v %v", l, err)
	}
	w, err := res.Watch(ctx, metav1.ListOptions{LabelSelector: "app=web", ResourceVersion: l.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	patch := func(name, labels string) {
		if _, err := res.Patch(ctx, name, types.MergePatchType, []byte(`{"metadata":{"labels":`+labels+`}}`), metav1.PatchOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := res.Create(ctx, &unstructured.Unstructured{Object: cm("b", map[string]any{"app": "db"})}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	patch("b", `{"app":"web"}`)         // b enters
	patch("a", `{"app":"web","x":"1"}`) // a changes
	patch("a", `{"app":"db"}`)          // a leaves
	if err := res.Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	want := []string{"ADDED b", "MODIFIED a", "DELETED a", "DELETED b"}
	var got []string
	for len(got) < len(want) {
		select {
		case ev := <-w.ResultChan():
			got = append(got, fmt.Sprintf("%s %s", ev.Type, ev.Object.(*unstructured.Unstructured).GetName()))
		case <-ctx.Done():
			t.Fatalf("events %v, want %v", got, want)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %v, want %v", got, want)
	}
}

// TestVersions: resourceVersion grows with each change and stays for a
// no-op; generation counts changes of more than metadata and status.
func TestVersions(t *testing.T) {
	_, dyn := newClient(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec":     map[string]any{"replicas": int64(1)}})
	ctx := context.Background()
	res := dyn.Resource(schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}).Namespace("default")
	d0, err := res.Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	step := func(p string) *unstructured.Unstructured {
		d, err := res.Patch(ctx, "web", types.MergePatchType, []byte(p), metav1.PatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	d1 := step(`{"spec":{"replicas":2}}`)
	d2 := step(`{"spec":{"replicas":2}}`)
	d3 := step(`{"metadata":{"labels":{"a":"b"}}}`)
	if d0.GetGeneration() != 1 || d1.GetGeneration() != 2 || d3.GetGeneration() != 2 {
		t.Errorf("generations %d %d %d, want 1 2 2", d0.GetGeneration(), d1.GetGeneration(), d3.GetGeneration())
	}
	if d1.GetResourceVersion() == d0.GetResourceVersion() || d2.GetResourceVersion() != d1.GetResourceVersion() || d3.GetResourceVersion() == d2.GetResourceVersion() {
		t.Errorf("resourceVersions %s %s %s %s", d0.GetResourceVersion(), d1.GetResourceVersion(), d2.GetResourceVersion(), d3.GetResourceVersion())
	}
	d1.Object["spec"].(map[string]any)["replicas"] = int64(5)
	if _, err := res.Update(ctx, d1, metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("a stale update: %v, want a conflict", err)
	}
}

// TestNamespaces: no object in a namespace that does not exist; deleting a
// namespace deletes its objects.
func TestNamespaces(t *testing.T) {
	_, dyn := newClient(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x", "namespace": "team"}})
	ctx := context.Background()
	if _, err := dyn.Resource(cmGVR).Namespace("nope").Create(ctx, &unstructured.Unstructured{Object: cm("y", nil)}, metav1.CreateOptions{}); !apierrors.IsNotFound(err) && !apierrors.IsBadRequest(err) {
		t.Errorf("create in a missing namespace: %v", err)
	}
	nsGVR := schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	if err := dyn.Resource(nsGVR).Delete(ctx, "team", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := dyn.Resource(cmGVR).Namespace("team").Get(ctx, "x", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("after its namespace went: %v", err)
	}
}

func TestAddRefuses(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		obj  map[string]any
		want string
	}{
		{map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}},
			`no kind "Widget" in version "example.com/v1": not a built-in kind, and no CustomResourceDefinition given defines it`},
		{map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{}}, "a ConfigMap without metadata.name"},
	} {
		if err := s.Add(tc.obj); err == nil || err.Error() != tc.want {
			t.Errorf("Add(%v) = %v, want %q", tc.obj, err, tc.want)
		}
	}
}

// TestCRDVersions: a CRD's objects are served at each served version, as
// the apiserver converts them ("None" conversion: apiVersion only),
// whatever version they were written at; discovery prefers the highest
// version, as the apiserver's.
func TestCRDVersions(t *testing.T) {
	version := func(name string, storage bool) map[string]any {
		return map[string]any{"name": name, "served": true, "storage": storage,
			"schema": map[string]any{"openAPIV3Schema": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true}}}
	}
	crd := map[string]any{"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": "widgets.example.com"},
		"spec": map[string]any{"group": "example.com", "scope": "Namespaced",
			"names":    map[string]any{"plural": "widgets", "singular": "widget", "kind": "Widget"},
			"versions": []any{version("v1alpha1", false), version("v1", true)}}}
	widget := func(v, name string, size int64) map[string]any {
		return map[string]any{"apiVersion": "example.com/" + v, "kind": "Widget",
			"metadata": map[string]any{"name": name, "namespace": "default"}, "spec": map[string]any{"size": size}}
	}
	s, dyn := newClient(t, crd, widget("v1", "a", 3))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := discoveryclient.NewDiscoveryClientForConfig(&rest.Config{Host: "http://fake.invalid", Transport: Transport(s)})
	if err != nil {
		t.Fatal(err)
	}
	groups, err := dc.ServerGroups()
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.Groups {
		if g.Name == "example.com" && (g.PreferredVersion.Version != "v1" || len(g.Versions) != 2 || g.Versions[1].Version != "v1alpha1") {
			t.Errorf("discovery of example.com: %+v, want v1 preferred, then v1alpha1", g)
		}
	}
	at := func(v string) dynamic.ResourceInterface {
		return dyn.Resource(schema.GroupVersionResource{Group: "example.com", Version: v, Resource: "widgets"}).Namespace("default")
	}
	old, err := at("v1alpha1").Get(ctx, "a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(old.Object, "spec", "size"); old.GetAPIVersion() != "example.com/v1alpha1" || size != 3 {
		t.Errorf("a at v1alpha1: %v", old.Object)
	}
	w, err := at("v1alpha1").Watch(ctx, metav1.ListOptions{ResourceVersion: old.GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	if _, err := at("v1alpha1").Create(ctx, &unstructured.Unstructured{Object: widget("v1alpha1", "b", 5)}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := at("v1").Patch(ctx, "a", types.MergePatchType, []byte(`{"spec":{"size":4}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v1", "v1alpha1"} {
		l, err := at(v).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, it := range l.Items {
			size, _, _ := unstructured.NestedInt64(it.Object, "spec", "size")
			got = append(got, fmt.Sprintf("%s %s %d", it.GetAPIVersion(), it.GetName(), size))
		}
		if want := fmt.Sprintf("[example.com/%s a 4 example.com/%s b 5]", v, v); fmt.Sprint(got) != want {
			t.Errorf("list at %s: %v, want %s", v, got, want)
		}
	}
	var events []string
	for len(events) < 2 {
		select {
		case ev := <-w.ResultChan():
			u := ev.Object.(*unstructured.Unstructured)
			events = append(events, fmt.Sprintf("%s %s %s", ev.Type, u.GetAPIVersion(), u.GetName()))
		case <-ctx.Done():
			t.Fatalf("events %v", events)
		}
	}
	if want := "[ADDED example.com/v1alpha1 b MODIFIED example.com/v1alpha1 a]"; fmt.Sprint(events) != want {
		t.Errorf("watch at v1alpha1: %v, want %s", events, want)
	}
}

// TestConfigMapSecretValidation: a Secret's stringData goes into data, as
// the apiserver's decoding puts it; an immutable ConfigMap or Secret keeps
// its data, and a Secret its type, as the apiserver's validation refuses.
func TestConfigMapSecretValidation(t *testing.T) {
	secretGVR := schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	_, dyn := newClient(t,
		map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "frozen", "namespace": "default"},
			"data": map[string]any{"a": "1"}, "immutable": true},
		map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "given", "namespace": "default"},
			"stringData": map[string]any{"s": "given"}})
	ctx := context.Background()
	cms, secrets := dyn.Resource(cmGVR).Namespace("default"), dyn.Resource(secretGVR).Namespace("default")
	data := func(u *unstructured.Unstructured) string {
		m, _, _ := unstructured.NestedStringMap(u.Object, "data")
		_, has := u.Object["stringData"]
		return fmt.Sprintf("%v stringData=%v", m, has)
	}
	s, err := secrets.Create(ctx, &unstructured.Unstructured{Object: map[string]any{"apiVersion": "v1", "kind": "Secret",
		"metadata": map[string]any{"name": "s"}, "data": map[string]any{"a": "eA==", "b": "eQ=="}, "stringData": map[string]any{"b": "z", "c": "w"}}},
		metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := data(s), "map[a:eA== b:eg== c:dw==] stringData=false"; got != want {
		t.Errorf("created with stringData: %s, want %s", got, want)
	}
	s, err = secrets.Patch(ctx, "s", types.MergePatchType, []byte(`{"stringData":{"a":"new"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := data(s), "map[a:bmV3 b:eg== c:dw==] stringData=false"; got != want {
		t.Errorf("patched with stringData: %s, want %s", got, want)
	}
	if g, err := secrets.Get(ctx, "given", metav1.GetOptions{}); err != nil || data(g) != "map[s:Z2l2ZW4=] stringData=false" {
		t.Errorf("given with stringData: %v %v", g, err)
	}
	for _, tc := range []struct {
		res        dynamic.ResourceInterface
		name, body string
		want       string // the error; "" for none
	}{
		{cms, "frozen", `{"metadata":{"labels":{"x":"y"}}}`, ""},
		{cms, "frozen", `{"data":{"a":"2"}}`, "ConfigMap \"frozen\" is invalid: data: Forbidden: field is immutable when `immutable` is set"},
		{cms, "frozen", `{"immutable":false,"binaryData":{"b":"eA=="}}`,
			"ConfigMap \"frozen\" is invalid: [immutable: Forbidden: field is immutable when `immutable` is set, binaryData: Forbidden: field is immutable when `immutable` is set]"},
		{secrets, "s", `{"type":"kubernetes.io/tls"}`, `Secret "s" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable`},
		{secrets, "s", `{"type":"Opaque","immutable":true}`, ""},
		{secrets, "s", `{"stringData":{"a":"again"}}`, "Secret \"s\" is invalid: data: Forbidden: field is immutable when `immutable` is set"},
	} {
		_, err := tc.res.Patch(ctx, tc.name, types.MergePatchType, []byte(tc.body), metav1.PatchOptions{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %s: %v", tc.name, tc.body, err)
		case tc.want != "" && (!apierrors.IsInvalid(err) || err.Error() != tc.want):
			t.Errorf("%s %s: %v, want %s", tc.name, tc.body, err, tc.want)
		}
	}
	if cm, err := cms.Get(ctx, "frozen", metav1.GetOptions{}); err != nil || cm.GetLabels()["x"] != "y" {
		t.Errorf("frozen: %v %v", cm, err)
	}
}

// TestUnservedSubresources: a subresource the fake does not implement
// (a pod's log, an eviction) is refused, not answered with the object.
func TestUnservedSubresources(t *testing.T) {
	pod := map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]any{"name": "p", "namespace": "default"},
		"spec": map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}}}
	_, dyn := newClient(t, pod)
	pods := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "pods"}).Namespace("default")
	_, err := pods.Get(context.Background(), "p", metav1.GetOptions{}, "log")
	if !apierrors.IsMethodNotSupported(err) || err.Error() != "the fake cluster does not serve pods/log (it keeps objects; it has no kubelet or controllers)" {
		t.Errorf("pods/log: %v", err)
	}
	if _, err := pods.Get(context.Background(), "p", metav1.GetOptions{}, "status"); err != nil {
		t.Errorf("pods/status: %v", err)
	}
}

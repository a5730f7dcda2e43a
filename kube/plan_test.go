package kube

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube/fake"
)

func TestWithPrecondition(t *testing.T) {
	for _, tc := range []struct {
		method, ct, body, want string
	}{
		{"PATCH", "application/merge-patch+json", `{"data":{"x":"1"}}`, `{"data":{"x":"1"},"metadata":{"resourceVersion":"7"}}`},
		{"PATCH", "application/json-patch+json", `[{"op":"remove","path":"/data/x"}]`, `[{"op":"test","path":"/metadata/resourceVersion","value":"7"},{"op":"remove","path":"/data/x"}]`},
		{"PUT", "application/json", `{"metadata":{"name":"a","resourceVersion":"3"},"n":10000000}`, `{"metadata":{"name":"a","resourceVersion":"7"},"n":10000000}`},
		{"DELETE", "application/json", ``, `{"apiVersion":"v1","kind":"DeleteOptions","preconditions":{"resourceVersion":"7"}}`},
		{"DELETE", "application/json", `{"propagationPolicy":"Background"}`, `{"preconditions":{"resourceVersion":"7"},"propagationPolicy":"Background"}`},
		{"PATCH", "application/apply-patch+yaml", "metadata:\n  name: a\n", `{"metadata":{"name":"a","resourceVersion":"7"}}`},
	} {
		ch := &PlanChange{Request: PlannedRequest{Method: tc.method, ContentType: tc.ct}}
		got, err := withPrecondition(ch, []byte(tc.body), "7")
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("%s %s %s: got %s, want %s", tc.method, tc.ct, tc.body, got, tc.want)
		}
	}
}

func TestPlannedPatch(t *testing.T) {
	cur := map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": "web"},
		"spec": map[string]any{"replicas": json.Number("1"), "template": map[string]any{"spec": map[string]any{"containers": []any{
			map[string]any{"name": "app", "image": "a:1"}, map[string]any{"name": "side", "image": "s:1"}}}}}}
	req := &http.Request{Method: http.MethodPatch, Header: http.Header{"Content-Type": {"application/strategic-merge-patch+json"}}, URL: &url.URL{}}
	got, err := patched(req, cur, []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"a:2"}]}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []any{map[string]any{"name": "app", "image": "a:2"}, map[string]any{"name": "side", "image": "s:1"}}
	if diff := cmp.Diff(want, got["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)["containers"]); diff != "" {
		t.Errorf("strategic merge (-want +got):\n%s", diff)
	}
	if r := got["spec"].(map[string]any)["replicas"]; r != json.Number("1") {
		t.Errorf("replicas = %#v, want the integer 1", r)
	}
}

// TestPlanOverlay runs a plan against kube/fake (an API server in this
// process, which honours dryRun): changes are dry runs the fake does not
// keep, and the reads of the run see them.
func TestPlanOverlay(t *testing.T) {
	srv, err := fake.New()
	if err != nil {
		t.Fatal(err)
	}
	cm := func(name string, data map[string]any) map[string]any {
		return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name, "namespace": "default"}, "data": data}
	}
	if err := srv.Add(cm("keep", map[string]any{"a": "1"}), cm("gone", map[string]any{"a": "1"})); err != nil {
		t.Fatal(err)
	}
	flags, closeFn, err := inProcessFlags(fake.Transport(srv), "fake")
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	p := PlanRequests(flags)
	c := NewClient(flags)
	ctx := context.Background()
	if err := p.Begin("fake", "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Apply(ctx, []*unstructured.Unstructured{{Object: cm("new", map[string]any{"k": "v"})}}, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, "configmaps", "keep", "default", "merge", []byte(`{"data":{"a":"2"}}`), "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Patch(ctx, "configmaps", "new", "default", "merge", []byte(`{"data":{"k2":"v2"}}`), "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "configmaps", "gone", DeleteOptions{Wait: true}); err != nil {
		t.Fatal(err)
	}
	u, err := c.Get(ctx, "configmaps", "new", "default")
	if err != nil {
		t.Fatal(err)
	}
	if d, _, _ := unstructured.NestedStringMap(u.Object, "data"); !reflect.DeepEqual(d, map[string]string{"k": "v", "k2": "v2"}) {
		t.Errorf("the planned object: %v", d)
	}
	if _, err := c.Get(ctx, "configmaps", "gone", "default"); !apierrors.IsNotFound(err) {
		t.Errorf("a planned delete: %v", err)
	}
	// Deleted, then made again: the server still has it.
	if _, err := c.Create(ctx, &unstructured.Unstructured{Object: cm("again", map[string]any{"b": "1"})}, "", false); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Delete(ctx, "configmaps", "again", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, &unstructured.Unstructured{Object: cm("keep", nil)}, "", false); !apierrors.IsAlreadyExists(err) {
		t.Errorf("a create of a planned object: %v", err)
	}
	if _, err := c.Create(ctx, &unstructured.Unstructured{Object: cm("gone", map[string]any{"b": "2"})}, "", false); err != nil {
		t.Fatalf("a create of an object the plan deleted: %v", err)
	}
	if u, err := c.Get(ctx, "configmaps", "gone", "default"); err != nil || u.GetName() != "gone" || u.Object["data"].(map[string]any)["b"] != "2" {
		t.Errorf("made again: %v %v", u, err)
	}
	if _, err := c.Delete(ctx, "configmaps", "gone", DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	l, err := c.List(ctx, "configmaps", ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, it := range l.Items {
		v, _, _ := unstructured.NestedString(it.Object, "data", "a")
		names = append(names, it.GetName()+"="+v)
	}
	if want := []string{"keep=2", "new="}; !reflect.DeepEqual(names, want) {
		t.Errorf("the planned list: %v, want %v", names, want)
	}
	plan := p.End()
	var ops []string
	for _, ch := range plan.Changes {
		ops = append(ops, ch.Op+" "+ch.Name)
	}
	if want := []string{"create new", "update keep", "update new", "delete gone", "create again", "delete again", "create gone", "delete gone"}; !reflect.DeepEqual(ops, want) {
		t.Errorf("the plan: %v, want %v", ops, want)
	}
	if ch := srv.Changes(); len(ch) != 0 {
		t.Errorf("the plan changed the fake: %v", ch)
	}
	if got := plan.Summary(); got != "Plan: 3 to create, 2 to change, 3 to delete in fake/default" {
		t.Errorf("summary: %s", got)
	}
	// Not planning: requests go through.
	if _, err := c.Get(ctx, "configmaps", "gone", "default"); err != nil {
		t.Errorf("after the plan: %v", err)
	}
}

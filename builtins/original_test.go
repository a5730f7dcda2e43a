package builtins

import (
	"reflect"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
)

// TestObjectOriginal: whatever a script changes in an object (fields set at
// any depth, lists appended to, changed in place, replaced), Original gives
// the object as it was wrapped, and the wrapped map was not copied for it.
func TestObjectOriginal(t *testing.T) {
	read := func() map[string]any {
		return map[string]any{
			"kind":     "Deployment",
			"metadata": map[string]any{"name": "web", "labels": map[string]any{"app": "web"}},
			"spec": map[string]any{
				"replicas": int64(1),
				"template": map[string]any{"spec": map[string]any{"containers": []any{
					map[string]any{"name": "c", "image": "nginx", "ports": []any{map[string]any{"containerPort": int64(80)}}},
				}}},
			},
		}
	}
	o := NewObject(read())
	thread := &starlark.Thread{Name: t.Name(), Load: func(_ *starlark.Thread, _ string) (starlark.StringDict, error) {
		return starlarktest.LoadAssertModule()
	}}
	starlarktest.SetReporter(thread, t)
	_, err := starlark.ExecFile(thread, "original.star", `
load("assert.star", "assert")
o.spec.replicas = 3
o.metadata.labels["tier"] = "front"
o.metadata["annotations"] = {"a": "b"}
c = o.spec.template.spec.containers
c[0].image = "nginx:2"
c[0].ports.append({"containerPort": 443})
c.append({"name": "sidecar", "image": "envoy"})
o.spec.template.spec.containers[0].ports[0]["containerPort"] = 8080
lbl = o.metadata.labels
o.metadata.labels = {"new": "x"}
lbl["late"] = "y"
assert.eq(o.spec.template.spec.containers[0].ports[0].containerPort, 8080)
`, starlark.StringDict{"o": o})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := o.Original(), read(); !reflect.DeepEqual(got, want) {
		t.Errorf("Original() = %v\nwant %v", got, want)
	}
	if got := o.Map()["spec"].(map[string]any)["replicas"]; got != int64(3) {
		t.Errorf("the change is lost: replicas %v", got)
	}
	spec, _ := o.Attr("spec")
	if spec.(*Object).Original() != nil {
		t.Error("a map inside an object has an Original")
	}
	// Unchanged and unread: the original is the object.
	u := NewObject(read())
	if !reflect.DeepEqual(u.Original(), read()) {
		t.Errorf("Original() of an untouched object = %v", u.Original())
	}
	if len(u.root.read.changed) != 0 || u.root.read.changed != nil {
		t.Error("an untouched object recorded changes")
	}
}

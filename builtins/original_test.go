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
	_, err := starlark.ExecFileOptions(starOptions, thread, "original.star", `
load("assert.star", "assert")
o.spec.replicas = 3
o.metadata.labels["tier"] = "front"
o.metadata["annotations"] = {"a": "b"}
c = o.spec.template.spec.containers
c[0].image = "nginx:2"
c[0].ports.append({"containerPort": 443})
c.append({"name": "sidecar", "image": "envoy"})
o.spec.template.spec.containers[0].ports[0]["containerPort"] = 8080
for i in range(20):  # more than indexFrom changes
    o.metadata.labels["l%d" % i] = "v"
    o.metadata.labels["l%d" % i] = "w"
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
	if o.root.read.index == nil {
		t.Error("no index after many changes")
	}
	if u.root.read.changed != nil {
		t.Error("an untouched object recorded changes")
	}
}

// BenchmarkReadLists10k reads a list field of each of 10,000 objects (the
// path that records the list for Original) and writes one field of each.
func BenchmarkReadLists10k(b *testing.B) {
	mk := func() []*Object {
		objs := make([]*Object, 10000)
		for i := range objs {
			objs[i] = NewObject(map[string]any{
				"kind":     "Pod",
				"metadata": map[string]any{"name": "p", "labels": map[string]any{"a": "b"}},
				"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "x"}}},
			})
		}
		return objs
	}
	for b.Loop() {
		b.StopTimer()
		objs := mk()
		b.StartTimer()
		for _, o := range objs {
			spec, _ := o.Attr("spec")
			cs, _ := spec.(*Object).Attr("containers")
			c := cs.(*starlark.List).Index(0).(*Object)
			if err := c.SetField("image", starlark.String("y")); err != nil {
				b.Fatal(err)
			}
		}
	}
}

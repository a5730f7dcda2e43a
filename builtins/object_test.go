package builtins

import (
	"testing"

	"go.starlark.net/starlark"
)

// TestObjectLazy checks that reading a field converts only what is read:
// the other objects of a list, and the other fields of the object, keep
// their decoded Go form.
func TestObjectLazy(t *testing.T) {
	objs := make([]*Object, 10000)
	for i := range objs {
		objs[i] = NewObject(map[string]any{
			"kind":     "ConfigMap",
			"metadata": map[string]any{"name": "c", "finalizers": []any{"a"}},
			"spec":     map[string]any{"list": []any{int64(1), int64(2)}},
		})
	}
	md, err := objs[42].Attr("metadata")
	if err != nil {
		t.Fatal(err)
	}
	fin, err := md.(*Object).Attr("finalizers")
	if err != nil || fin.(*starlark.List).Len() != 1 {
		t.Fatalf("finalizers: %v %v", fin, err)
	}
	for i, o := range objs {
		_, converted := o.m["metadata"].(map[string]any)["finalizers"].(*starlark.List)
		if converted != (i == 42) {
			t.Fatalf("object %d: finalizers converted = %v", i, converted)
		}
		if _, ok := o.m["spec"].(map[string]any)["list"].([]any); !ok {
			t.Fatalf("object %d: an unread field was converted", i)
		}
	}
	// Plain data out is unaffected by what was converted.
	if got := objs[42].Map()["metadata"].(map[string]any)["finalizers"].([]any)[0]; got != "a" {
		t.Errorf("Map() after conversion: %v", got)
	}
}

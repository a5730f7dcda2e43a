package builtins

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
)

// TestObjectSchemaPath checks that a map inside an object knows its
// object's apiVersion and kind and the fields it was reached by.
func TestObjectSchemaPath(t *testing.T) {
	deploy := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{
			"containers": []any{map[string]any{"name": "web"}},
			"matrix":     []any{[]any{map[string]any{"x": int64(1)}}},
		}}},
	}
	list := map[string]any{"apiVersion": "v1", "kind": "PodList", "items": []any{
		map[string]any{"apiVersion": "v1", "kind": "Pod", "spec": map[string]any{}},
	}}
	globals := starlark.StringDict{"d": NewObject(deploy), "l": NewObject(list), "plain": NewObject(map[string]any{"a": map[string]any{}})}
	for _, tc := range []struct {
		expr             string
		apiVersion, kind string
		path             []string
	}{
		{"d", "apps/v1", "Deployment", nil},
		{"d.spec", "apps/v1", "Deployment", []string{"spec"}},
		{"d.spec.template.spec.containers[0]", "apps/v1", "Deployment", []string{"spec", "template", "spec", "containers", "[]"}},
		{`d["spec"].get("template").spec.matrix[0][0]`, "apps/v1", "Deployment", []string{"spec", "template", "spec", "matrix", "[]", "[]"}},
		{"[v for v in d.spec.template.spec.values()][0][0]", "apps/v1", "Deployment", []string{"spec", "template", "spec", "containers", "[]"}},
		{"l.items[0].spec", "v1", "Pod", []string{"spec"}},
		{"plain.a", "", "", []string{"a"}},
	} {
		v, err := starlark.Eval(&starlark.Thread{}, "x", tc.expr, globals)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		av, k, p := v.(*Object).SchemaPath()
		if diff := cmp.Diff([]any{tc.apiVersion, tc.kind, tc.path}, []any{av, k, p}); diff != "" {
			t.Errorf("%s: SchemaPath (-want +got):\n%s", tc.expr, diff)
		}
	}
}

package builtins

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/api/meta"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/starconv"
)

// TestPrintedMetadata: what the table printer reads of an object read
// lazily (its namespace and labels, for the NAMESPACE and label columns)
// is what it read of the object's metadata decoded whole, on odd objects
// and on every object of the real manifests; and a change of the labels
// made after the read is printed.
func TestPrintedMetadata(t *testing.T) {
	docs := [][]byte{
		[]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n","labels":{"x":"y","a.b/c":""}}}`),
		[]byte(`{"metadata":{"namespace":"a","namespace":"b","labels":{"x":"1"},"labels":{"y":"2"}}}`),
		[]byte(`{"metadata":{"name":"a","labels":{"x":1}}}`),
		[]byte(`{"metadata":{"labels":null}}`),
		[]byte(`{"metadata":null}`), []byte(`{"metadata":"s"}`), []byte(`{}`),
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "shared", "manifests", "*.yaml"))
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range bytes.Split(data, []byte("\n---")) {
			if js, err := yaml.YAMLToJSON(doc); err == nil && bytes.HasPrefix(js, []byte("{")) {
				docs = append(docs, js)
			}
		}
	}
	type shown struct {
		Namespace string
		Labels    map[string]string
	}
	show := func(obj kruntime.Object) shown {
		m, err := meta.Accessor(obj)
		if err != nil {
			return shown{Namespace: "(no accessor)"}
		}
		return shown{m.GetNamespace(), m.GetLabels()}
	}
	for _, js := range docs {
		raw, err := kube.NewRawObject(js)
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		want := show(metadataOf(newRawObject(raw)))
		if got := show(printedMetadata(newRawObject(raw))); !cmp.Equal(got, want) {
			t.Errorf("%.200s: (-decoded whole +printed)\n%s", js, cmp.Diff(want, got))
		}
	}
	t.Logf("%d objects", len(docs))

	raw, err := kube.NewRawObject(docs[0])
	if err != nil {
		t.Fatal(err)
	}
	o := newRawObject(raw)
	md := starconv.ToStarlark(map[string]any{"namespace": "m", "labels": map[string]any{"new": "yes"}})
	if err := o.SetKey(starlark.String("metadata"), md); err != nil {
		t.Fatal(err)
	}
	if got, want := show(printedMetadata(o)), (shown{"m", map[string]string{"new": "yes"}}); !cmp.Equal(got, want) {
		t.Errorf("after a write: printed %v, want %v", got, want)
	}
}

package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/file"
)

// TestRenderTemplate: the template outputs on objects and dicts, without a
// cluster: what the printers see (an object, or a List of them), files read
// as file.read reads them, and the errors.
func TestRenderTemplate(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cols.txt"), []byte("NAME   SIZE\n.metadata.name  .spec.size\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "names.jsonpath"), []byte(`{.items[*].metadata.name}`), 0o644); err != nil {
		t.Fatal(err)
	}
	thread := &starlark.Thread{}
	SetSession(thread, &Session{File: file.Options{Dir: dir, Sandbox: true}})
	a, err := objectFromJSON(`{"apiVersion": "v1", "kind": "Widget", "metadata": {"name": "a", "managedFields": [{"manager": "m"}]}, "spec": {"size": 3}}`)
	if err != nil {
		t.Fatal(err)
	}
	b := starlark.NewDict(1)
	b.SetKey(starlark.String("metadata"), starlark.NewDict(0))
	md, _, _ := b.Get(starlark.String("metadata"))
	md.(*starlark.Dict).SetKey(starlark.String("name"), starlark.String("b"))
	list := starlark.NewList([]starlark.Value{a, b})

	for _, tc := range []struct {
		name   string
		v      starlark.Value
		output string
		want   string
	}{
		{"columns of a list", list, "custom-columns=NAME:.metadata.name,SIZE:.spec.size",
			"NAME   SIZE\na      3\nb      <none>\n"},
		{"columns of one", a, "custom-columns=N:metadata.name", "N\na\n"},
		{"columns file", list, "custom-columns-file=cols.txt", "NAME   SIZE\na      3\nb      <none>\n"},
		{"a List", list, "jsonpath={.kind} {.apiVersion} {.metadata} {.items[*].metadata.name}", `List v1 {"resourceVersion":""} a b`},
		{"an empty List", starlark.NewList(nil), "jsonpath={.kind}:{.items[*]}", "List:"},
		{"one object, managedFields kept", a, "jsonpath={.metadata.managedFields[0].manager}", "m"},
		{"missing keys print nothing", a, "jsonpath={.nope}{.spec.nope.x}", ""},
		{"jsonpath file", list, "jsonpath-file=names.jsonpath", "a b"},
		{"as JSON", list, "jsonpath-as-json={.items[*].metadata.name}", "[\n    \"a\",\n    \"b\"\n]\n"},
		{"go template", a, "go-template={{.metadata.name}}={{.spec.size}}", "a=3"},
		{"YAML text", starlark.String("metadata: {name: yml}"), "jsonpath={.metadata.name}", "yml"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, err := render(thread, tc.v, tc.output, tableOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	for _, tc := range []struct {
		name   string
		v      starlark.Value
		output string
		want   string
	}{
		{"unknown", a, "tabel", `unable to match a printer suitable for the output format "tabel", allowed formats are: custom-columns,custom-columns-file,go-template,go-template-file,json,jsonpath,jsonpath-as-json,jsonpath-file,name,table,template,templatefile,wide,yaml`},
		{"no columns", a, "custom-columns=", "custom-columns format specified but no custom columns given"},
		{"bad column", a, "custom-columns=NAME", "unexpected custom-columns spec: NAME, expected <header>:<json-path-expr>"},
		{"bad jsonpath", a, "jsonpath={.a", "error parsing jsonpath {.a, unclosed action"},
		{"execution error, first line only", a, "jsonpath={.metadata.name[0]}", `error executing jsonpath "{.metadata.name[0]}": Error executing template: string is not array or slice`},
		{"not an object", starlark.MakeInt(3), "jsonpath={.a}", "output jsonpath: got int, want k8s.object, dict, list or YAML text"},
		{"not objects", starlark.NewList([]starlark.Value{a, starlark.MakeInt(3)}), "custom-columns=A:.a", "output custom-columns: item 1: got int, want k8s.object, dict, list or YAML text, or a path"},
		{"a file outside the script's directory", a, "jsonpath-file=../x", `jsonpath-file: file.read: "../x" is outside the script's directory ` + dir + ` (--sandbox)`},
		{"no such file", a, "custom-columns-file=none.txt", "custom-columns-file: file.read: none.txt: no such file or directory"},
		{"a bad columns file", a, "custom-columns-file=names.jsonpath", "invalid template, missing spec line."},
	} {
		t.Run("error "+tc.name, func(t *testing.T) {
			_, _, err := render(thread, tc.v, tc.output, tableOptions{})
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("got error %v, want %q", err, tc.want)
			}
		})
	}
}

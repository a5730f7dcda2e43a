package builtins

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube"
)

// lazyProbes look at an object in different orders; each returns what it
// saw. A lazily read object must show, in every order, what the same
// object decoded whole shows.
const lazyProbes = `
def whole(o):
    return [len(o), str(o), json.encode(o), sorted([k for k in o]), dir(o), bool(o)]

def partial(o):
    out = [len(o), "kind" in o, "metadata" in o, "spec" in o, "data" in o, "nope" in o, o.get("nope", 1)]
    if "metadata" in o and type(o.metadata) == "k8s.object":
        md = o.metadata
        out.append([md.get("name"), md.get("namespace"), md.get("labels", {}), str(md)])
        out.append(o["metadata"]["name"] if "name" in md else None)
    if "spec" in o:
        out.append(json.encode(o.spec))
    out.append(str(o))
    out.append([(k, str(o[k])) for k in o])
    out.append(json.encode(o))
    return out

def write(o):
    if "metadata" in o and type(o.metadata) == "k8s.object":
        md = o.metadata
        md.labels = {"lazy": "yes"}
    o["extra"] = [1, 2]
    return [json.encode(o), len(o), sorted(o.keys())]

def values(o):
    return [str(o[k]) for k in o] + [json.encode(dict(o))]
`

// checkLazy compares a lazily read object of data with the object decoded
// whole, through every probe, and their Original and Map.
func checkLazy(t *testing.T, thread *starlark.Thread, probes starlark.StringDict, name string, data []byte) {
	t.Helper()
	names := []string{"partial", "write", "whole", "values"}
	if len(data) > 32<<10 {
		names = names[:1] // a big CRD: what the others add is slow to see
	}
	for _, probe := range names {
		raw, err := kube.NewRawObject(data)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		lazy := newRawObject(raw)
		var m map[string]any
		if err := sigsjson.UnmarshalCaseSensitivePreserveInts(data, &m); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		eager := NewObject(m)
		got, err := starlark.Call(thread, probes[probe], starlark.Tuple{lazy}, nil)
		if err != nil {
			t.Fatalf("%s: %s(lazy): %v", name, probe, err)
		}
		want, err := starlark.Call(thread, probes[probe], starlark.Tuple{eager}, nil)
		if err != nil {
			t.Fatalf("%s: %s(eager): %v", name, probe, err)
		}
		if got.String() != want.String() {
			t.Fatalf("%s: %s:\nlazy  %s\neager %s", name, probe, got, want)
		}
		if eq, err := starlark.Equal(lazy, eager); err != nil || !eq {
			t.Fatalf("%s: %s: lazy == eager is %v (%v)", name, probe, eq, err)
		}
		if !reflect.DeepEqual(lazy.Original(), eager.Original()) {
			t.Fatalf("%s: %s: Original() differs:\nlazy  %v\neager %v", name, probe, lazy.Original(), eager.Original())
		}
		if !reflect.DeepEqual(lazy.Map(), eager.Map()) {
			t.Fatalf("%s: %s: Map() differs", name, probe)
		}
	}
}

func lazyThread(t *testing.T) (*starlark.Thread, starlark.StringDict) {
	thread := &starlark.Thread{Name: "lazy"}
	probes, err := starlark.ExecFileOptions(starOptions, thread, "probes.star", lazyProbes, Globals(nil))
	if err != nil {
		t.Fatal(err)
	}
	return thread, probes
}

// TestLazyObjectAsDecoded: objects of the real install manifests
// (../shared/manifests; skipped when absent), each as JSON, read lazily,
// show what they show decoded whole.
func TestLazyObjectAsDecoded(t *testing.T) {
	thread, probes := lazyThread(t)
	for _, s := range []string{
		`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","namespace":"n","labels":{"x":"y"}},"data":{"k":"v"}}`,
		`{"kind":"X","metadata":{"name":"a"},"metadata":{"name":"b"},"n":[1,2.5,{"a":[]}],"big":1e300}`,
		`{}`, `{"metadata":null}`, `{"metadata":"s"}`,
	} {
		checkLazy(t, thread, probes, s, []byte(s))
	}
	dir := filepath.Join("..", "..", "shared", "manifests")
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if len(files) == 0 {
		t.Skipf("no manifests in %s", dir)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			thread, probes := lazyThread(t)
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for i, doc := range bytes.Split(data, []byte("\n---")) {
				js, err := yaml.YAMLToJSON(doc)
				if err != nil || !bytes.HasPrefix(js, []byte("{")) {
					continue
				}
				checkLazy(t, thread, probes, fmt.Sprintf("%s#%d", filepath.Base(f), i), js)
			}
		})
	}
}

// TestObjectMapThroughAccessors: outside object.go, nothing reads an
// Object's map directly, which on an object read lazily holds only the
// fields decoded so far: fields(), field(k), has(k), str(...) decode.
func TestObjectMapThroughAccessors(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	// The package's variables (registries such as forwards, handlers) are
	// maps of their own named m, never Objects.
	parsed := map[string]*ast.File{}
	pkgVars := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed[f] = file
		for _, d := range file.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.VAR {
				for _, spec := range g.Specs {
					for _, n := range spec.(*ast.ValueSpec).Names {
						pkgVars[n.Name] = true
					}
				}
			}
		}
	}
	for f, file := range parsed {
		if f == "object.go" {
			continue
		}
		ast.Inspect(file, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "m" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && pkgVars[id.Name] {
				return true
			}
			t.Errorf("%s: .m read directly; use fields(), field(k) or str(...)", fset.Position(sel.Pos()))
			return true
		})
	}
}

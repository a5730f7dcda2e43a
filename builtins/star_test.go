package builtins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"
)

// TestStarFiles runs testdata/*.star, go.starlark.net style: each file uses
// assert.eq / assert.fails, and obj(json_text) to make a k8s.object.
func TestStarFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/*.star")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/*.star: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".star"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			thread := &starlark.Thread{Name: file, Load: func(th *starlark.Thread, module string) (starlark.StringDict, error) {
				if module == "assert.star" {
					return starlarktest.LoadAssertModule()
				}
				return loadStar(th, module)
			}}
			starlarktest.SetReporter(thread, t)
			if _, err := starlark.ExecFileOptions(starOptions, thread, file, src, starGlobals()); err != nil {
				if ee, ok := err.(*starlark.EvalError); ok {
					t.Fatal(ee.Backtrace())
				}
				t.Fatal(err)
			}
		})
	}
}

// loadStar executes testdata/module for load(), in a thread of its own, and
// freezes its globals as load does.
func loadStar(parent *starlark.Thread, module string) (starlark.StringDict, error) {
	src, err := os.ReadFile(filepath.Join("testdata", module))
	if err != nil {
		return nil, err
	}
	thread := &starlark.Thread{Name: module, Load: parent.Load}
	starlarktest.SetReporter(thread, starlarktest.GetReporter(parent))
	g, err := starlark.ExecFileOptions(starOptions, thread, module, src, starGlobals())
	if err != nil {
		return nil, err
	}
	g.Freeze()
	return g, nil
}

var starOptions = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

func starGlobals() starlark.StringDict {
	globals := Globals(&Session{Argv: []string{"test"}})
	globals["obj"] = starlark.NewBuiltin("obj", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var text string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "text", &text); err != nil {
			return nil, err
		}
		return objectFromJSON(text)
	})
	return globals
}

// objectFromJSON decodes text as the API client does (integers as int64).
func objectFromJSON(text string) (*Object, error) {
	docs, err := DecodeYAMLDocuments(text)
	if err != nil {
		return nil, err
	}
	return NewObject(docs[0].(map[string]any)), nil
}

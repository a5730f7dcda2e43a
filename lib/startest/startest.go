// Package startest runs the .star tests of a package, go.starlark.net
// style: each testdata/*.star file is a subtest that uses assert.eq and
// assert.fails (load("assert.star", "assert")) and may load the other files
// of testdata/.
package startest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	"go.starlark.net/syntax"
)

// Options is the Starlark dialect of the tests.
var Options = &syntax.FileOptions{Set: true, While: true, TopLevelControl: true, GlobalReassign: true}

// Run runs testdata/*.star, each file and each module it loads with the
// predeclared names that globals returns.
func Run(t *testing.T, globals func() starlark.StringDict) {
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
				return loadStar(th, module, globals())
			}}
			starlarktest.SetReporter(thread, t)
			if _, err := starlark.ExecFileOptions(Options, thread, file, src, globals()); err != nil {
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
func loadStar(parent *starlark.Thread, module string, globals starlark.StringDict) (starlark.StringDict, error) {
	src, err := os.ReadFile(filepath.Join("testdata", module))
	if err != nil {
		return nil, err
	}
	thread := &starlark.Thread{Name: module, Load: parent.Load}
	starlarktest.SetReporter(thread, starlarktest.GetReporter(parent))
	g, err := starlark.ExecFileOptions(Options, thread, module, src, globals)
	if err != nil {
		return nil, err
	}
	g.Freeze()
	return g, nil
}

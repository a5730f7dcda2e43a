package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/k8sh/k8sh/builtins"
)

// loader implements load(): a module path is relative to the file that
// loads it (the working directory for -c, stdin and the REPL), then to each
// directory of K8SH_PATH; each module runs once per run, and a cycle is an
// error that names the chain.
type loader struct {
	opts        *syntax.FileOptions
	predeclared starlark.StringDict
	path        []string // K8SH_PATH
	modules     map[string]*module
	loading     []string // the chain of modules being loaded
}

type module struct {
	globals starlark.StringDict
	err     error
	done    bool
}

func newLoader(opts *syntax.FileOptions, predeclared starlark.StringDict) *loader {
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("K8SH_PATH")) {
		if d != "" {
			path = append(path, d)
		}
	}
	return &loader{opts: opts, predeclared: predeclared, path: path, modules: map[string]*module{}}
}

// resolve finds the file of module for a load in the file from.
func (l *loader) resolve(from, name string) (string, error) {
	if filepath.IsAbs(name) {
		return name, nil
	}
	dir := "."
	if from != "" && !strings.HasPrefix(from, "<") && from != "-c" {
		dir = filepath.Dir(from)
	}
	tried := []string{filepath.Join(dir, name)}
	for _, d := range l.path {
		tried = append(tried, filepath.Join(d, name))
	}
	for _, p := range tried {
		if _, err := os.Stat(p); err == nil {
			return filepath.Abs(p)
		}
	}
	return "", fmt.Errorf("cannot find %q (looked in %s)", name, strings.Join(tried, ", "))
}

func (l *loader) load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	from := ""
	if thread.CallStackDepth() > 0 {
		from = thread.CallFrame(0).Pos.Filename()
	}
	path, err := l.resolve(from, name)
	if err != nil {
		return nil, err
	}
	if m, ok := l.modules[path]; ok {
		if !m.done {
			chain := append(append([]string{}, l.loading...), path)
			return nil, fmt.Errorf("load cycle: %s", strings.Join(chain, " -> "))
		}
		return m.globals, m.err
	}
	m := &module{}
	l.modules[path] = m
	l.loading = append(l.loading, path)
	defer func() { l.loading = l.loading[:len(l.loading)-1] }()

	src, err := os.ReadFile(path)
	if err == nil {
		child := &starlark.Thread{Name: "load " + name, Print: thread.Print, Load: thread.Load}
		builtins.InheritThread(child, thread)
		m.globals, err = starlark.ExecFileOptions(l.opts, child, path, src, l.predeclared)
		if err == nil {
			m.globals.Freeze()
		}
	}
	m.err, m.done = err, true
	return m.globals, err
}

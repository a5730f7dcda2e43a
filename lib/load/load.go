// Package load implements load() for k8sh programs: a module's path is
// relative to the file that loads it, then to each directory of K8SH_PATH.
package load

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
)

// A Loader implements load(): a module path is relative to the file that
// loads it (the working directory for -c, stdin and the REPL), then to each
// directory of K8SH_PATH; each module runs once per run, and a cycle is an
// error that names the chain.
type Loader struct {
	opts        *syntax.FileOptions
	predeclared starlark.StringDict
	inherit     func(child, parent *starlark.Thread)
	path        []string // K8SH_PATH
	modules     map[string]*module
	loading     []string // the chain of modules being loaded
}

type module struct {
	globals starlark.StringDict
	err     error
	done    bool
}

// New returns the loader of a run: each module runs with opts and the
// predeclared names, in a thread of its own that inherit gives what it
// needs of the loading thread (the session, the context).
func New(opts *syntax.FileOptions, predeclared starlark.StringDict, inherit func(child, parent *starlark.Thread)) *Loader {
	var path []string
	for _, d := range filepath.SplitList(os.Getenv("K8SH_PATH")) {
		if d != "" {
			path = append(path, d)
		}
	}
	return &Loader{opts: opts, predeclared: predeclared, inherit: inherit, path: path, modules: map[string]*module{}}
}

// resolve finds the file of module for a load in the file from.
func (l *Loader) resolve(from, name string) (string, error) {
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

// Load is the thread's Load function: it returns the globals of module
// name, loaded by the file that thread runs.
func (l *Loader) Load(thread *starlark.Thread, name string) (starlark.StringDict, error) {
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
		l.inherit(child, thread)
		m.globals, err = starlark.ExecFileOptions(l.opts, child, path, src, l.predeclared)
		if err == nil {
			m.globals.Freeze()
		}
	}
	m.err, m.done = err, true
	return m.globals, err
}

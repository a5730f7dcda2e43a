// Package doc holds the documentation of every builtin k8sh preloads, by
// its dotted name ("k8s.get", "re.sub"): help() prints it, the REPL
// completes parameters from its signatures and docs/reference is
// generated from it.
//
// A document is the builtin's Starlark signature on the first line, a blank
// line, then prose.
package doc

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// docs holds the documentation of every builtin, by its dotted name.
var docs = map[string]string{}

// documented maps a builtin of go.starlark.net named without its module
// ("now", "ceil") to the dotted name of its documentation.
var documented = map[*starlark.Builtin]string{}

// Builtin makes a builtin named name (with its module, "k8s.get") whose
// documentation is text.
func Builtin(name, text string, fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
	Set(name, text)
	return starlark.NewBuiltin(name, fn)
}

// Set records text as the documentation of name: a builtin that a module
// makes anew for each run (Documented), or a value (sys.argv).
func Set(name, text string) {
	docs[name] = text
}

// Documented makes a builtin named name whose documentation Set has
// recorded; a builtin without documentation is a bug of k8sh: it panics.
func Documented(name string, fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
	if _, ok := docs[name]; !ok {
		panic("no documentation for " + name)
	}
	return starlark.NewBuiltin(name, fn)
}

// Module records the documentation of each member of mod, a module of
// go.starlark.net, by member name; a member without one is a bug of k8sh:
// it panics.
func Module(mod *starlarkstruct.Module, byMember map[string]string) {
	for name, v := range mod.Members {
		text, ok := byMember[name]
		if !ok {
			panic(fmt.Sprintf("no documentation for %s.%s", mod.Name, name))
		}
		full := mod.Name + "." + name
		docs[full] = text
		if b, ok := v.(*starlark.Builtin); ok {
			documented[b] = full
		}
	}
}

// Get returns the documentation of the builtin called name, if it has any.
func Get(name string) (string, bool) {
	d, ok := docs[name]
	return d, ok
}

// Of returns the documentation of builtin b.
func Of(b *starlark.Builtin) (string, bool) {
	name := b.Name()
	if full, ok := documented[b]; ok {
		name = full
	}
	return Get(name)
}

// Names lists every documented name, sorted.
func Names() []string {
	names := make([]string, 0, len(docs))
	for n := range docs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Params lists the parameter names of the builtin called name, as its
// documented signature gives them ("k8s.get" → kind, name, namespace, ...).
func Params(name string) []string {
	d, ok := docs[name]
	if !ok {
		return nil
	}
	sig, _, _ := strings.Cut(d, "\n")
	open, close := strings.Index(sig, "("), strings.LastIndex(sig, ")")
	if open < 0 || close < open {
		return nil
	}
	var out []string
	for _, p := range strings.Split(sig[open+1:close], ",") {
		p, _, _ = strings.Cut(strings.TrimSpace(p), "=")
		if p == "" || strings.HasPrefix(p, "*") {
			continue
		}
		out = append(out, p)
	}
	return out
}

// Summary is the first sentence of a document's prose: the line after the
// signature.
func Summary(text string) string {
	_, rest, _ := strings.Cut(text, "\n\n")
	para, _, _ := strings.Cut(rest, "\n\n")
	if i := strings.Index(para, "\n  "); i >= 0 {
		para = para[:i] // the prose before an indented example
	}
	para = strings.Join(strings.Fields(para), " ")
	if i := strings.Index(para, ". "); i >= 0 {
		para = para[:i+1]
	}
	return para
}

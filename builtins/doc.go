package builtins

import (
	"sort"
	"strings"

	"go.starlark.net/starlark"
)

// docs holds the documentation of every builtin, by its dotted name; help()
// prints it and docs/ reflects it.
var docs = map[string]string{}

// newBuiltin makes a builtin named name (with its module, "k8s.get") whose
// documentation is doc: its Starlark signature on the first line, then prose.
func newBuiltin(name, doc string, fn func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)) *starlark.Builtin {
	docs[name] = doc
	return starlark.NewBuiltin(name, fn)
}

// Doc returns the documentation of the builtin called name, if it has any.
func Doc(name string) (string, bool) {
	d, ok := docs[name]
	return d, ok
}

// DocNames lists every documented builtin, sorted.
func DocNames() []string {
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

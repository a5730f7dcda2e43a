package builtins

import (
	"sort"

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

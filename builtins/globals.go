package builtins

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/lib/json"
	starlarkmath "go.starlark.net/lib/math"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// Globals returns the predeclared names of a k8sh program run in session s
// (nil for none): the modules and the top-level builtins.
func Globals(s *Session) starlark.StringDict {
	if s == nil {
		s = &Session{}
	}
	return starlark.StringDict{
		"k8s":    K8s,
		"ctx":    Ctx,
		"sys":    sysModule(s),
		"json":   json.Module,
		"time":   starlarktime.Module,
		"math":   starlarkmath.Module,
		"yaml":   YAML,
		"re":     Re,
		"file":   File,
		"catch":  catchBuiltin,
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
		"help":   helpBuiltin,
	}
}

var helpBuiltin = newBuiltin("help", `help(x=None)

Without an argument, lists the modules and their builtins, one line each.
With a builtin (help(k8s.get)) or a module (help(k8s)), prints its
documentation.`, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x?", &x); err != nil {
		return nil, err
	}
	thread.Print(thread, helpText(x))
	return starlark.None, nil
})

func helpText(x starlark.Value) string {
	switch x := x.(type) {
	case nil:
		var b strings.Builder
		b.WriteString("k8sh: Starlark for Kubernetes. help(x) documents a builtin or module.\n")
		for _, name := range DocNames() {
			if strings.HasPrefix(name, "math.") {
				continue // one line for all of them, below
			}
			fmt.Fprintf(&b, "  %-22s %s\n", name, summary(docs[name]))
		}
		fmt.Fprintf(&b, "  %-22s %s\n", "math.*", "Floating-point functions and constants (math.floor, math.log, math.pi, ...): help(math).")
		return strings.TrimRight(b.String(), "\n")
	case *starlark.Builtin:
		if d, ok := docOf(x); ok {
			return d
		}
		return fmt.Sprintf("%s: a builtin of Starlark (see the Starlark spec)", x.Name())
	case *starlarkstruct.Module:
		var b strings.Builder
		fmt.Fprintf(&b, "module %s\n", x.Name)
		names := make([]string, 0, len(x.Members))
		for n := range x.Members {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			full := x.Name + "." + n
			if d, ok := docs[full]; ok {
				fmt.Fprintf(&b, "  %-22s %s\n", full, summary(d))
			} else {
				fmt.Fprintf(&b, "  %s\n", full)
			}
		}
		return strings.TrimRight(b.String(), "\n")
	}
	return fmt.Sprintf("%s: a value of type %s", x.String(), x.Type())
}

// summary is the first sentence of a doc's prose: the line after the
// signature.
func summary(doc string) string {
	_, rest, _ := strings.Cut(doc, "\n\n")
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

package builtins

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"go.starlark.net/lib/json"
	starlarkmath "go.starlark.net/lib/math"
	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/assert"
	"github.com/k8sh/k8sh/lib/base64"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/re"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

// Globals returns the predeclared names of a k8sh program run in session s
// (nil for none): the modules and the top-level builtins.
func Globals(s *Session) starlark.StringDict {
	if s == nil {
		s = &Session{}
	}
	sysOpts := s.Sys
	sysOpts.DryRun = s.DryRun
	sysMod := sys.New(sysOpts)
	g := starlark.StringDict{
		"k8s":    K8s,
		"ctx":    Ctx,
		"sys":    sysMod,
		"json":   json.Module,
		"time":   starlarktime.Module,
		"math":   starlarkmath.Module,
		"yaml":   yaml.Module,
		"re":     re.Module,
		"base64": base64.Module,
		"assert": assert.Module,
		"file":   file.New(s.File),
		"catch":  catchBuiltin,
		"struct": starlark.NewBuiltin("struct", starlarkstruct.Make),
		"help":   helpBuiltin,
		"plan":   K8s.Members["plan"], // k8s.plan, for the REPL
	}
	for name, v := range g {
		if m, ok := v.(*starlarkstruct.Module); ok {
			g[name] = spelled{m}
		}
	}
	maps.Copy(g, exitBuiltins(sysMod.Members["exit"].(*starlark.Builtin)))
	return g
}

var helpBuiltin = doc.Builtin("help", `help(x=None)

Without an argument, lists the modules and their builtins, one line each.
With a builtin (help(k8s.get)) or a module (help(k8s)), prints its
documentation. With an object read from the cluster, or a map inside one
(help(d.spec.strategy)), prints what kubectl explain says of its kind or
field (k8s.explain).`, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x?", &x); err != nil {
		return nil, err
	}
	if o, ok := x.(*Object); ok {
		if text, ok := explainObject(thread, b, o); ok {
			thread.Print(thread, text)
			return starlark.None, nil
		}
	}
	thread.Print(thread, helpText(x))
	return starlark.None, nil
})

func helpText(x starlark.Value) string {
	switch x := x.(type) {
	case nil:
		var b strings.Builder
		b.WriteString("k8sh: Starlark for Kubernetes. help(x) documents a builtin or module.\n")
		for _, name := range doc.Names() {
			if strings.HasPrefix(name, "math.") {
				continue // one line for all of them, below
			}
			d, _ := doc.Get(name)
			fmt.Fprintf(&b, "  %-22s %s\n", name, doc.Summary(d))
		}
		fmt.Fprintf(&b, "  %-22s %s\n", "math.*", "Floating-point functions and constants (math.floor, math.log, math.pi, ...): help(math).")
		return strings.TrimRight(b.String(), "\n")
	case *starlark.Builtin:
		if d, ok := doc.Of(x); ok {
			return d
		}
		return fmt.Sprintf("%s: a builtin of Starlark (see the Starlark spec)", x.Name())
	case spelled:
		return helpText(x.Module)
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
			if d, ok := doc.Get(full); ok {
				fmt.Fprintf(&b, "  %-22s %s\n", full, doc.Summary(d))
			} else {
				fmt.Fprintf(&b, "  %s\n", full)
			}
		}
		return strings.TrimRight(b.String(), "\n")
	}
	return fmt.Sprintf("%s: a value of type %s", x.String(), x.Type())
}

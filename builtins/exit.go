package builtins

import (
	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

const exitDoc = `(code=0, message=None)

Ends the REPL, or the run of a script, with exit status code: sys.exit
under the name a Python user tries first. message, if given, is written to
stderr first.`

func init() {
	for _, name := range []string{"exit", "quit"} {
		doc.Set(name, name+exitDoc)
	}
}

// exitBuiltins are exit and quit, as in Python: each calls the run's
// sys.exit (sysExit), so they end a run as it does.
func exitBuiltins(sysExit *starlark.Builtin) starlark.StringDict {
	out := starlark.StringDict{}
	for _, name := range []string{"exit", "quit"} {
		out[name] = doc.Documented(name, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var code int
			var message string
			if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code, "message?", starconv.OrNone(&message)); err != nil {
				return nil, err
			}
			return sysExit.CallInternal(thread, args, kwargs)
		})
	}
	return out
}

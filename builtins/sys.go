package builtins

import (
	"fmt"
	"os"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// ExitError is what sys.exit raises to end a run with a status code.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// sysModule is the sys module:
//
//	sys.argv                         list of str
//	sys.dry_run                      bool: --dry-run was given
//	sys.env(name, default=None)      str or default
//	sys.exit(code=0)
func sysModule(s *Session) *starlarkstruct.Module {
	av := make([]starlark.Value, len(s.Argv))
	for i, a := range s.Argv {
		av[i] = starlark.String(a)
	}
	l := starlark.NewList(av)
	l.Freeze()
	return &starlarkstruct.Module{
		Name: "sys",
		Members: starlark.StringDict{
			"argv":    l,
			"dry_run": starlark.Bool(s.DryRun),
			"env":     sysEnv,
			"exit":    sysExit,
		},
	}
}

var sysEnv = newBuiltin("sys.env", `sys.env(name, default=None)

Returns the value of the environment variable name, or default when it is
not set.`, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var dflt starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "default?", &dflt); err != nil {
		return nil, err
	}
	if v, ok := os.LookupEnv(name); ok {
		return starlark.String(v), nil
	}
	return dflt, nil
})

var sysExit = newBuiltin("sys.exit", `sys.exit(code=0)

Ends the run at once with exit status code (0 to 125).`, func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	code := 0
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "code?", &code); err != nil {
		return nil, err
	}
	if code < 0 || code > 125 {
		return nil, fmt.Errorf("%s: code %d out of range 0..125", b.Name(), code)
	}
	return nil, &ExitError{Code: code}
})

package builtins

import (
	"errors"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

var catchBuiltin = doc.Builtin("catch", `catch(fn, *args, **kwargs)

Calls fn(*args, **kwargs) and returns struct(value=<its result>, error=None),
or, if it fails, struct(value=None, error="<the message>"): Starlark has no
try/except, so this is how a script goes on after a failure.
  r = catch(k8s.get, "pod", "web")
  if r.error: print("no web:", r.error)
sys.exit and Ctrl-C are not caught. The message is the one the program
would stop with, without its position: the builtin's name, then kubectl's
words, with kubectl's reason class last for an error from the server
('k8s.get: pods "web" not found in namespace "default" (NotFound)').`, func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, errors.New("catch: missing argument fn")
	}
	fn, ok := args[0].(starlark.Callable)
	if !ok {
		return nil, errors.New("catch: fn is a " + args[0].Type() + ", want a callable")
	}
	v, err := starlark.Call(thread, fn, args[1:], kwargs)
	if err != nil {
		var exit *sys.ExitError
		if errors.As(err, &exit) || sys.Context(thread).Err() != nil {
			return nil, err
		}
		msg := err.Error()
		var ee *starlark.EvalError
		if errors.As(err, &ee) {
			msg = ee.Msg
		}
		return result(starlark.None, starlark.String(msg)), nil
	}
	return result(v, starlark.None), nil
})

func result(value, err starlark.Value) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"value": value, "error": err})
}

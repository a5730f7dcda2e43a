// Package starerr reads a Starlark error for printing: its message and the
// frames of the program's own code.
package starerr

import (
	"errors"

	"go.starlark.net/starlark"
)

// Frames returns err's EvalError and its call stack, outermost first,
// without the frame of the builtin that failed (which has no position in
// the program); ok is false when err is not a Starlark evaluation error.
func Frames(err error) (ee *starlark.EvalError, stack starlark.CallStack, ok bool) {
	if !errors.As(err, &ee) {
		return nil, nil, false
	}
	stack = ee.CallStack
	if n := len(stack); n > 0 && stack[n-1].Pos.Filename() == "<builtin>" {
		stack = stack[:n-1]
	}
	return ee, stack, true
}

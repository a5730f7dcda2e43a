// Package starerr reads a Starlark error for printing: its message and the
// frames of the program's own code.
package starerr

import (
	"errors"
	"fmt"
	"strings"

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

// Format is err as k8sh prints a failed statement: "file:line:col: message"
// (the position where it happened), then "Traceback (most recent call
// last):" with the frames, outermost first, when there is more than one,
// or also for one frame when oneFrame is set (background work: the
// function that failed is worth naming). An error that is not a Starlark
// evaluation error is its message. Each ends in a newline.
func Format(err error, oneFrame bool) string {
	ee, stack, ok := Frames(err)
	if !ok {
		return err.Error() + "\n"
	}
	var b strings.Builder
	if n := len(stack); n > 0 {
		fmt.Fprintf(&b, "%s: ", stack[n-1].Pos)
	}
	b.WriteString(ee.Msg)
	b.WriteByte('\n')
	if len(stack) > 1 || oneFrame && len(stack) > 0 {
		b.WriteString("Traceback (most recent call last):\n")
		for _, fr := range stack {
			fmt.Fprintf(&b, "  %s: in %s\n", fr.Pos, fr.Name)
		}
	}
	return b.String()
}

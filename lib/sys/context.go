package sys

import (
	"context"

	"go.starlark.net/starlark"
)

// contextKey is the thread-local that holds the context.Context of the
// statement being run: go.starlark.net's repl sets the same key.
const contextKey = "context"

// SetContext sets the context of what thread runs: cancelling it (Ctrl-C,
// --timeout) stops the programs sys.exec runs and the API calls of the k8s
// builtins.
func SetContext(thread *starlark.Thread, ctx context.Context) {
	thread.SetLocal(contextKey, ctx)
}

// Context is the context SetContext gave thread, or the background one.
func Context(thread *starlark.Thread) context.Context {
	if ctx, ok := thread.Local(contextKey).(context.Context); ok && ctx != nil {
		return ctx
	}
	return context.Background()
}

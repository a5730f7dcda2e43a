package builtins

import (
	"strings"

	"go.starlark.net/starlark"
	"k8s.io/cli-runtime/pkg/printers"
)

// REPLEcho is what the REPL prints of the value of an expression statement:
// nothing for the value of a change, which Announce has shown as kubectl's
// one line per object ("deployment.apps/web scaled"); a string that holds
// line breaks (k8s.logs) as its text, with terminal escapes made harmless
// as in tables (printers.EscapeTerminal: ESC prints as "^["); anything else
// as Echo shows it.
func REPLEcho(thread *starlark.Thread, v starlark.Value) string {
	if ChangeResult(thread, v) {
		return ""
	}
	if p, ok := v.(*PlanValue); ok {
		return p.Echo()
	}
	if s, ok := v.(starlark.String); ok && strings.Contains(string(s), "\n") {
		return printers.EscapeTerminal(strings.TrimSuffix(string(s), "\n"))
	}
	return Echo(thread, v)
}

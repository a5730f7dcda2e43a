package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["print"] = doc.Builtin("k8s.print", printDoc, printBuiltin)
}

const printDoc = `k8s.print(x, output="table")

Prints x as kubectl get -o OUTPUT does: output is "table" (the kind's own
columns, as the server gives them to kubectl, CRD printer columns included),
"wide" (every column), "yaml", "json" or "name" ("deployment.apps/web").
x is a k8s.object or a list of them; other values print as print() would,
or as JSON/YAML with those outputs.

Cluster data cannot drive the terminal: in a table, as with kubectl, a
cell is cut at its first line break and ends in "...", and an ESC byte
prints as "^[" (a carriage return as "\r"); YAML and JSON quote them
("\e", "\u001b"). The REPL's echo prints the same way, and error
messages show ESC as "^[" too.`

func printBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	output := "table"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "output?", &output); err != nil {
		return nil, err
	}
	s, err := render(thread, x, output)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	thread.Print(thread, colorize(s, output))
	return starlark.None, nil
}

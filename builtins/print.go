package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["print"] = doc.Builtin("k8s.print", printDoc, printBuiltin)
}

const printDoc = `k8s.print(x, output="table")

Prints x as kubectl get -o OUTPUT does: output is "table" (the kind's own
columns, as the server gives them to kubectl, CRD printer columns included),
"wide" (every column), "yaml", "json" or "name" ("deployment.apps/web"),
or a template of one's own, parsed and printed by kubectl's own code:

  custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image
      a column per HEADER:JSONPATH; several values join with ",", none
      prints <none>
  custom-columns-file=PATH   a line of headers, a line of JSONPaths
  jsonpath={.items[*].metadata.name}   a JSONPath template (a missing key
      prints nothing); jsonpath-as-json=..., jsonpath-file=PATH
  go-template={{.metadata.name}}, go-template-file=PATH (or template=,
      templatefile=)

x is a k8s.object or a list of them; other values print as print() would,
or as JSON/YAML with those outputs. The templates take what k8s.apply
takes (dicts and YAML text too). As
with kubectl get, a template sees one object as it is (managedFields
included) and a list as a List: {.items[*].metadata.name}. A PATH is read
as file.read reads it. A template's output is kubectl's, byte for byte,
and ends in a line break: k8s.print adds one where kubectl's output has
none, and prints nothing when it is empty. A bad output or template fails
with kubectl's message (without the dump of the object that kubectl adds
to a JSONPath error).

Cluster data cannot drive the terminal: in a table, as with kubectl, a
cell is cut at its first line break and ends in "...", and an ESC byte
prints as "^[" (a carriage return as "\r"); YAML and JSON quote them
("\e", "\u001b"); custom-columns cells print ESC as "^[" too (a line
break in one starts a new line, as in kubectl). The REPL's echo prints the
same way, and error messages show ESC as "^[" too. jsonpath and
go-template print strings as they are, as kubectl does: they make data for
other programs, and an ESC in the data reaches the output raw; look at
untrusted data on a terminal with a table or custom-columns.`

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
	if isTemplateOutput(output) {
		// kubectl's bytes, which may end without a line break: it adds
		// none where there is one, and nothing at all prints nothing.
		if s != "" {
			thread.Print(thread, strings.TrimSuffix(s, "\n"))
		}
		return starlark.None, nil
	}
	thread.Print(thread, colorize(s, output))
	return starlark.None, nil
}

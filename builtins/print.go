package builtins

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["print"] = doc.Builtin("k8s.print", printDoc, printBuiltin)
}

// printName names k8s.print in what reading a manifest for it says.
var printName = starlark.NewBuiltin("k8s.print", nil)

const printDoc = `k8s.print(x, output="table", *, sort_by=None, no_headers=False, show_labels=False, label_columns=[])

Prints x as kubectl get -o OUTPUT prints it: output is "table" (the kind's
own columns, as the server gives them to kubectl, CRD printer columns
included), "wide" (every column), "yaml", "json" or "name"
("deployment.apps/web"), or a template of one's own, parsed and printed as
kubectl does:

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
takes (dicts and YAML text too). As with kubectl get, a template sees one object as it is (managedFields
included) and a list as a List: {.items[*].metadata.name}. A PATH is read
as file.read reads it. A template's output is kubectl's, byte for byte,
and ends in a line break: k8s.print adds one where kubectl's output has
none, and prints nothing when it is empty. A bad output or template fails
with kubectl's message (without the dump of the object that kubectl adds
to a JSONPath error).

A table shows what was read, from the cluster it was read from: k8s.list
and k8s.get keep the server's row of each object (read in the same request
as the objects), so printing reads nothing again. A list of several kinds
(k8s.list("deploy,svc"), k8s.list("all")) prints one table per kind with
names as "deployment.apps/web"; a list read with all_namespaces=True has a
NAMESPACE column. An empty list prints nothing, and kubectl's "No resources
found in NS namespace." on stderr. Objects not read by k8s.list or k8s.get
(dicts, what a write returned) get their rows from the session's cluster.
A k8s.watch prints as kubectl get -w does, until the watch ends: the
objects that exist as one table, then a row for each change.

sort_by sorts the rows of each table as kubectl get --sort-by does, by a
field path (".metadata.name", "{.status.capacity.cpu}"; quantities sort
by value), or by a function of the object giving the key
(sort_by=lambda p: p.status.phase). no_headers, show_labels and
label_columns (["app", "tier"]) are kubectl's --no-headers, --show-labels
and -L.

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
	var (
		x            starlark.Value
		sortBy       starlark.Value = starlark.None
		labelColumns *starlark.List
		opts         tableOptions
	)
	output := "table"
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x, "output?", &output,
		"sort_by?", &sortBy, "no_headers?", &opts.noHeaders, "show_labels?", &opts.showLabels,
		"label_columns?", &labelColumns); err != nil {
		return nil, err
	}
	switch v := sortBy.(type) {
	case starlark.NoneType:
	case starlark.String:
		opts.sortBy = string(v)
	case starlark.Callable:
		opts.sortKey = v
	default:
		return nil, fmt.Errorf("%s: sort_by: got %s, want a field path or a function", b.Name(), sortBy.Type())
	}
	if labelColumns != nil {
		for i := range labelColumns.Len() {
			s, ok := starlark.AsString(labelColumns.Index(i))
			if !ok {
				return nil, fmt.Errorf("%s: label_columns: item %d is a %s, want a label key", b.Name(), i, labelColumns.Index(i).Type())
			}
			// kubectl -L takes "a,b" too.
			opts.labelColumns = append(opts.labelColumns, strings.Split(s, ",")...)
		}
	}
	if opts.sortKey != nil {
		sorted, err := sortByKey(thread, x, opts.sortKey)
		if err != nil {
			return nil, fmt.Errorf("%s: sort_by: %w", b.Name(), err)
		}
		x, opts.sortKey = sorted, nil
	}
	if wv, ok := x.(*watchValue); ok && (output == "table" || output == "wide") {
		opts.wide = output == "wide"
		return starlark.None, printWatch(thread, b, wv, opts)
	}
	s, note, err := render(thread, x, output, opts)
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
	if note != "" {
		fmt.Fprintln(stderr(thread), note)
	}
	if _, objs := x.(*starlark.List); s != "" || !objs {
		thread.Print(thread, colorize(s, output))
	}
	return starlark.None, nil
}

// sortByKey returns list x sorted by key(item), stably, keeping what
// k8s.list knew of it; other values are returned as they are.
func sortByKey(thread *starlark.Thread, x starlark.Value, key starlark.Callable) (starlark.Value, error) {
	l, ok := x.(*starlark.List)
	if !ok {
		return x, nil
	}
	type keyed struct{ k, v starlark.Value }
	items := make([]keyed, l.Len())
	for i := range items {
		v := l.Index(i)
		k, err := starlark.Call(thread, key, starlark.Tuple{v}, nil)
		if err != nil {
			return nil, err
		}
		items[i] = keyed{k, v}
	}
	var cmpErr error
	slices.SortStableFunc(items, func(a, b keyed) int {
		if cmpErr != nil {
			return 0
		}
		lt, err := starlark.Compare(syntax.LT, a.k, b.k)
		if err != nil {
			cmpErr = err
			return 0
		}
		if lt {
			return -1
		}
		gt, _ := starlark.Compare(syntax.GT, a.k, b.k)
		if gt {
			return 1
		}
		return 0
	})
	if cmpErr != nil {
		return nil, cmpErr
	}
	out := make([]starlark.Value, len(items))
	for i, it := range items {
		out[i] = it.v
	}
	sorted := starlark.NewList(out)
	if reads := readsOf(l); reads != nil {
		rememberReads(sorted, reads)
	}
	return sorted, nil
}

// printWatch prints the events of a watch as kubectl get -w does: the
// header once, then each event's row as it comes, in the columns' widths
// of the first rows, until the watch ends.
func printWatch(thread *starlark.Thread, b *starlark.Builtin, wv *watchValue, opts tableOptions) error {
	if opts.sortBy != "" {
		return fmt.Errorf("%s: sort_by cannot sort a watch", b.Name())
	}
	it := wv.Iterate()
	defer it.Done()
	lines := &lineWriter{thread: thread}
	w := printers.GetNewTabWriter(lines)
	var p printers.ResourcePrinter
	// The objects that exist when the watch starts print as one table,
	// then each change as it comes, as kubectl get -w prints them.
	var batch []*Object
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		rd := batch[0].row.read
		t, err := tableOf(batch, rd, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		batch = batch[:0]
		if p == nil {
			p = printers.NewTablePrinter(printers.PrintOptions{
				Wide: opts.wide, NoHeaders: opts.noHeaders, ShowLabels: opts.showLabels,
				ColumnLabels:  opts.labelColumns,
				WithNamespace: rd.allNamespaces && rd.resource.Namespaced && !fleetObjects(batch),
			})
		}
		if err := p.PrintObj(t, w); err != nil {
			return fmt.Errorf("%s: %w", b.Name(), err)
		}
		return w.Flush()
	}
	initial := wv.initialCount
	var v starlark.Value
	for it.Next(&v) {
		o, ok := eventObject(v)
		if !ok {
			continue
		}
		batch = append(batch, o)
		if initial > 0 {
			if initial--; initial > 0 {
				continue
			}
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return nil
}

// eventObject is the object of a k8s.watch event.
func eventObject(v starlark.Value) (*Object, bool) {
	ev, ok := v.(starlark.HasAttrs)
	if !ok {
		return nil, false
	}
	x, err := ev.Attr("object")
	if err != nil {
		return nil, false
	}
	o, ok := x.(*Object)
	return o, ok && o.row != nil
}

// lineWriter prints what is written to it a line at a time, through the
// thread's print (stdout, or the REPL's terminal).
type lineWriter struct {
	thread *starlark.Thread
	buf    []byte
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		l.thread.Print(l.thread, string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

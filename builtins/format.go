package builtins

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fatih/color"
	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

// Output formats of k8s.print, as kubectl -o names them; templateOutputs
// (columns.go) are the ones that take an argument ("jsonpath=...").
var outputs = []string{"table", "wide", "yaml", "json", "name"}

// Echo renders a value as the REPL shows it: YAML for one object (without
// managedFields), the kubectl get table for a list of objects (kubectl's
// "No resources found ..." for an empty list k8s.list returned), repr for
// anything else, and nothing for None.
func Echo(thread *starlark.Thread, v starlark.Value) string {
	switch v := v.(type) {
	case starlark.NoneType:
		return ""
	case *Object:
		s, _, _ := render(thread, v, "yaml", tableOptions{})
		return colorize(s, "yaml")
	case *starlark.Dict:
		if s, ok := echoByContext(v); ok {
			return s
		}
	case *starlark.List:
		if objs, ok := objectsOf(v); ok && (len(objs) > 0 || readsOf(v) != nil) {
			s, note, _ := render(thread, v, "table", tableOptions{})
			if s == "" {
				return note
			}
			return colorize(s, "table")
		}
	}
	return v.String()
}

var (
	keyColor    = color.New(color.FgCyan)
	headerColor = color.New(color.Bold)
	yamlKey     = regexp.MustCompile(`^(\s*(?:- )*)([^\s:#'"][^:]*|"[^"]*"|'[^']*'):(\s|$)`)
)

// colorize colours YAML keys and a table's header, unless colour is off:
// fatih/color turns it off when stdout is not a terminal or NO_COLOR is set.
func colorize(s, output string) string {
	if color.NoColor {
		return s
	}
	lines := strings.Split(s, "\n")
	switch output {
	case "yaml":
		for i, l := range lines {
			if m := yamlKey.FindStringSubmatchIndex(l); m != nil {
				lines[i] = l[:m[4]] + keyColor.Sprint(l[m[4]:m[5]]) + l[m[5]:]
			}
		}
	case "table", "wide":
		lines[0] = headerColor.Sprint(lines[0])
	}
	return strings.Join(lines, "\n")
}

// render formats v (a k8s.object, a list of them, or any value) in output;
// note is what kubectl would say on stderr (for tables of no objects).
func render(thread *starlark.Thread, v starlark.Value, output string, opts tableOptions) (out, note string, err error) {
	if isTemplateOutput(output) {
		out, err := renderTemplate(thread, v, output) // columns.go
		return out, "", err
	}
	if !slices.Contains(outputs, output) {
		return "", "", unknownOutput(output)
	}
	var objs []*Object
	var reads []*read
	single := false
	switch v := v.(type) {
	case *Object:
		objs, single = []*Object{v}, true
	case *starlark.List:
		var ok bool
		if objs, ok = objectsOf(v); !ok {
			objs = nil
		} else {
			reads = readsOf(v)
		}
	}
	if objs == nil && (reads == nil || output == "yaml" || output == "json") {
		if output == "json" || output == "yaml" {
			out, err := encode(v, output)
			return out, "", err
		}
		if s, ok := v.(starlark.String); ok {
			return string(s), "", nil
		}
		return v.String(), "", nil
	}
	switch output {
	case "name":
		names := make([]string, len(objs))
		for i, o := range objs {
			// Names the server accepts hold no escapes; a dict's may.
			names[i] = printers.EscapeTerminal(objectName(o))
		}
		return strings.Join(names, "\n"), "", nil
	case "yaml", "json":
		if single {
			out, err := encode(cleaned(objs[0]), output)
			return out, "", err
		}
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = cleaned(o)
		}
		out, err := encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items, "metadata": map[string]any{"resourceVersion": ""}}, output)
		return out, "", err
	}
	opts.wide = output == "wide"
	return tables(thread, objs, reads, opts)
}

// cleaned is an object's data without managedFields, as kubectl shows it.
func cleaned(o *Object) map[string]any {
	m := o.Map()
	if md, ok := m["metadata"].(map[string]any); ok {
		delete(md, "managedFields")
	}
	return m
}

func encode(v any, output string) (string, error) {
	if sv, ok := v.(starlark.Value); ok {
		g, err := starconv.FromStarlark(sv)
		if err != nil {
			return "", err
		}
		v = g
	}
	if output == "json" {
		out, err := json.MarshalIndent(v, "", "    ")
		return string(out), err
	}
	out, err := yaml.Marshal(v)
	return strings.TrimRight(string(out), "\n"), err
}

// objectName is kubectl -o name's form: "pod/web", "deployment.apps/web".
func objectName(o *Object) string {
	gv, _ := schema.ParseGroupVersion(o.str("apiVersion"))
	kind := strings.ToLower(o.str("kind"))
	if gv.Group != "" {
		kind += "." + gv.Group
	}
	return kind + "/" + o.str("metadata", "name")
}

func objectsOf(l *starlark.List) ([]*Object, bool) {
	objs := make([]*Object, l.Len())
	for i := range objs {
		o, ok := l.Index(i).(*Object)
		if !ok {
			return nil, false
		}
		if !o.isMap("metadata") {
			return nil, false
		}
		objs[i] = o
	}
	return objs, true
}

// tableOptions are kubectl get's options of its tables.
type tableOptions struct {
	wide, noHeaders, showLabels bool
	labelColumns                []string
	// sortBy is a field path (kubectl's --sort-by); sortKey a function
	// of an object giving the key to sort by.
	sortBy  string
	sortKey starlark.Callable
}

// tables prints objs as kubectl get prints what it read: one table per run
// of objects of one resource, each with the server's columns for its kind
// (the rows that were read with the objects, so nothing is read again),
// separated by a blank line; names as "deployment.apps/web" when the list
// holds several kinds; a NAMESPACE column when it was read across all
// namespaces. reads are the reads the list was made of (nil when unknown).
// With no objects it prints nothing and returns kubectl's "No resources
// found" line for stderr.
func tables(thread *starlark.Thread, objs []*Object, reads []*read, opts tableOptions) (out, note string, err error) {
	if len(objs) == 0 {
		return "", noResources(reads), nil
	}
	withRows(thread, objs)
	withKind := false
	for _, rd := range reads[min(1, len(reads)):] {
		// Several kinds; reads of one kind in several contexts are one.
		withKind = withKind || rd.resource.GVR != reads[0].resource.GVR
	}
	if reads == nil {
		for _, o := range objs[1:] {
			if o.row.read.resource.GVK != objs[0].row.read.resource.GVK {
				withKind = true
				break
			}
		}
	}
	var b strings.Builder
	tracking := &trackingWriter{w: &b}
	sep := &separatorWriter{w: tracking}
	w := printers.GetNewTabWriter(sep)
	for start := 0; start < len(objs); {
		rd := objs[start].row.read
		end := start + 1
		for end < len(objs) && objs[end].row.read.resource.GVR == rd.resource.GVR && sameColumns(objs[end].row.read, rd) {
			end++
		}
		if start > 0 {
			w.Flush()
			w.SetRememberedWidths(nil)
			if !opts.noHeaders && tracking.n > 0 {
				sep.ready = true
			}
		}
		t, err := tableOf(objs[start:end], rd, opts)
		if err != nil {
			return "", "", err
		}
		p := printers.NewTablePrinter(printers.PrintOptions{
			Wide:          opts.wide,
			NoHeaders:     opts.noHeaders,
			ShowLabels:    opts.showLabels,
			ColumnLabels:  opts.labelColumns,
			WithNamespace: rd.allNamespaces && rd.resource.Namespaced && !fleetObjects(objs[start:end]),
			WithKind:      withKind,
			Kind:          rd.resource.GVK.GroupKind(),
		})
		if err := p.PrintObj(t, w); err != nil {
			return "", "", err
		}
		start = end
	}
	w.Flush()
	return strings.TrimSuffix(b.String(), "\n"), "", nil
}

// noResources is kubectl get's line for an empty result.
func noResources(reads []*read) string {
	if len(reads) == 0 {
		return "No resources found"
	}
	for _, rd := range reads {
		if rd.allNamespaces || !rd.resource.Namespaced {
			return "No resources found"
		}
	}
	for _, rd := range reads[1:] {
		if rd.namespace != reads[0].namespace {
			return "No resources found" // contexts= in their namespaces
		}
	}
	return fmt.Sprintf("No resources found in %s namespace.", reads[0].namespace)
}

// tableOf is the metav1.Table of objs, all of one read's resource, with
// their rows as they were read, sorted as opts say.
func tableOf(objs []*Object, rd *read, opts tableOptions) (*metav1.Table, error) {
	t := &metav1.Table{Rows: make([]metav1.TableRow, len(objs))}
	if rd.rows != nil {
		t.ColumnDefinitions = rd.rows.Columns
	} else {
		t.ColumnDefinitions = genericColumns
	}
	sorting := opts.sortBy != "" || opts.sortKey != nil
	// The printer reads a row's object only for its NAMESPACE column
	// and its label columns.
	printerReads := opts.showLabels || len(opts.labelColumns) > 0 || rd.allNamespaces && rd.resource.Namespaced
	// Objects read with contexts= have a CONTEXT column first, and then
	// the NAMESPACE column of all_namespaces (the printer's would come
	// first).
	fleet := fleetObjects(objs)
	withNS := fleet && rd.allNamespaces && rd.resource.Namespaced
	if fleet {
		cols := []metav1.TableColumnDefinition{{Name: "Context", Type: "string"}}
		if withNS {
			cols = append(cols, metav1.TableColumnDefinition{Name: "Namespace", Type: "string"})
		}
		t.ColumnDefinitions = append(cols, t.ColumnDefinitions...)
	}
	for i, o := range objs {
		// The printer writes into the cells (kinds before names): a copy.
		cells := o.row.cells
		if cells == nil {
			cells = genericCells(o)
		}
		if fleet {
			lead := []any{o.context}
			if withNS {
				lead = append(lead, o.str("metadata", "namespace"))
			}
			cells = append(lead, cells...)
		}
		t.Rows[i].Cells = slices.Clone(cells)
		if printerReads {
			t.Rows[i].Object.Object = printedMetadata(o)
		}
		if sorting {
			// The sorter's jsonpath reads the whole object as plain data.
			t.Rows[i].Object.Object = &unstructured.Unstructured{Object: o.Map()}
		}
	}
	if opts.sortBy != "" {
		if err := sortTable(t, opts.sortBy); err != nil {
			return nil, err
		}
	} else if asRead(objs, rd) {
		// In the table's order, as kubectl get prints it.
		pos := rd.rows.Positions
		order := make([]int, len(objs))
		for k := range order {
			order[k] = k
		}
		slices.SortFunc(order, func(a, b int) int { return pos[objs[a].row.index] - pos[objs[b].row.index] })
		rows := slices.Clone(t.Rows)
		for i, k := range order {
			t.Rows[i] = rows[k]
		}
	}
	return t, nil
}

// sameColumns tells whether reads a and b have the same columns: reads of
// one kind from several contexts (contexts=) whose servers differ (another
// version, a CRD's other printer columns, no table) print as tables of
// their own.
func sameColumns(a, b *read) bool {
	if a == b {
		return true
	}
	if (a.rows == nil) != (b.rows == nil) {
		return false
	}
	if a.rows == nil {
		return true
	}
	if len(a.rows.Columns) != len(b.rows.Columns) {
		return false
	}
	for i := range a.rows.Columns {
		if a.rows.Columns[i].Name != b.rows.Columns[i].Name {
			return false
		}
	}
	return true
}

// fleetObjects tells whether objs were read with contexts= (any of them
// knows its context): their tables have a CONTEXT column.
func fleetObjects(objs []*Object) bool {
	for _, o := range objs {
		if o.context != "" {
			return true
		}
	}
	return false
}

// asRead tells whether objs are all of read rd, in the order it read them,
// and rd's table was in another order: the user did not reorder them, so
// they print in the table's order.
func asRead(objs []*Object, rd *read) bool {
	if rd.rows == nil || rd.rows.Positions == nil {
		return false
	}
	for i, o := range objs {
		if o.row.read != rd || i > 0 && o.row.index <= objs[i-1].row.index {
			return false
		}
	}
	return true
}

// genericColumns are the columns of objects whose server sent no table.
var genericColumns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name"},
	{Name: "Age", Type: "string"},
}

func genericCells(o *Object) []any {
	age := "<unknown>"
	if ts, err := time.Parse(time.RFC3339, o.str("metadata", "creationTimestamp")); err == nil {
		age = duration.HumanDuration(time.Since(ts))
	}
	return []any{o.str("metadata", "name"), age}
}

// sortTable sorts t's rows by field as kubectl get --sort-by does: field
// as kubectl reads it (".a.b", "a.b", "{.a.b}"), the first value found in
// each row's object, rows without one first, quantities ("500m", "2Gi") by
// their value, and the same sort (sort.Sort) on the same order, so that
// rows with equal keys come out as kubectl's do. k8sh does not import
// kubectl's sorter: its package renders kubectl get's help text when the
// program starts (tens of milliseconds), and it ends the process on values
// it cannot order, which are refused here.
func sortTable(t *metav1.Table, field string) error {
	expr, err := relaxedJSONPath(field)
	if err != nil {
		return fmt.Errorf("sort_by: %w", err)
	}
	parser := jsonpath.New("sorting").AllowMissingKeys(true)
	if err := parser.Parse(expr); err != nil {
		return fmt.Errorf("sort_by: %w", err)
	}
	s := &rowSorter{rows: t.Rows, keys: make([]any, len(t.Rows))}
	found := false
	var kind reflect.Type
	for i, r := range t.Rows {
		res, err := parser.FindResults(r.Object.Object.(*unstructured.Unstructured).Object)
		if err != nil {
			return fmt.Errorf("sort_by: %w", err)
		}
		if len(res) == 0 || len(res[0]) == 0 {
			continue
		}
		found = true
		v := res[0][0]
		for v.Kind() == reflect.Interface && !v.IsNil() {
			v = v.Elem()
		}
		switch v.Kind() {
		case reflect.String, reflect.Int64, reflect.Float64:
		default:
			return fmt.Errorf("sort_by: %s holds a %s, which cannot be sorted", field, jsonKind(v))
		}
		if kind != nil && v.Type() != kind {
			return fmt.Errorf("sort_by: %s holds both a %s and a %s, which cannot be sorted together", field, jsonKind(reflect.Zero(kind)), jsonKind(v))
		}
		kind = v.Type()
		s.keys[i] = v.Interface()
	}
	if len(t.Rows) > 0 && !found {
		return fmt.Errorf("sort_by: couldn't find any field with path %q in the list of objects", expr)
	}
	sort.Sort(s)
	return nil
}

// relaxedJSONPath is a field path as kubectl's --sort-by and
// custom-columns take it: ".a.b", "a.b", "{a.b}" and "{.a.b}" are "{.a.b}".
func relaxedJSONPath(p string) (string, error) {
	if p == "" {
		return p, nil
	}
	m := relaxedPath.FindStringSubmatch(p)
	if m == nil {
		return "", fmt.Errorf("unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'")
	}
	if m[1] != "" {
		return "{." + m[1] + "}", nil
	}
	return "{." + m[2] + "}", nil
}

var relaxedPath = regexp.MustCompile(`^\{\.?([^{}]+)\}$|^\.?([^{}]+)$`)

// rowSorter orders rows by keys (string, int64 or float64; nil first).
type rowSorter struct {
	rows []metav1.TableRow
	keys []any
}

func (s *rowSorter) Len() int { return len(s.rows) }

func (s *rowSorter) Swap(i, j int) {
	s.rows[i], s.rows[j] = s.rows[j], s.rows[i]
	s.keys[i], s.keys[j] = s.keys[j], s.keys[i]
}

func (s *rowSorter) Less(i, j int) bool {
	a, b := s.keys[i], s.keys[j]
	if a == nil {
		return true
	}
	if b == nil {
		return false
	}
	switch a := a.(type) {
	case int64:
		return a < b.(int64)
	case float64:
		return a < b.(float64)
	case string:
		b := b.(string)
		qa, errA := resource.ParseQuantity(a)
		qb, errB := resource.ParseQuantity(b)
		if errA == nil && errB == nil {
			return qa.Cmp(qb) < 0
		}
		return a < b
	}
	return false
}

// jsonKind names a JSON value's type as a user knows it.
func jsonKind(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		return "string"
	case reflect.Int64:
		return "integer"
	case reflect.Float64:
		return "number"
	case reflect.Bool:
		return "boolean"
	case reflect.Map:
		return "map"
	case reflect.Slice:
		return "list"
	}
	return "null"
}

// withRows gives every object that has no row of a read one: the server's
// row for it when the session's cluster has it (one read per kind and
// namespace), else NAME and AGE.
func withRows(thread *starlark.Thread, objs []*Object) {
	type key struct{ apiVersion, kind, namespace, context string }
	missing := map[key][]*Object{}
	var order []key
	for _, o := range objs {
		if o.row == nil {
			k := key{o.str("apiVersion"), o.str("kind"), o.str("metadata", "namespace"), o.context}
			if missing[k] == nil {
				order = append(order, k)
			}
			missing[k] = append(missing[k], o)
		}
	}
	s, _ := thread.Local(sessionKey).(*Session)
	for _, k := range order {
		group := missing[k]
		var l *kube.RowList
		var c Cluster
		if s != nil {
			c = s.Cluster
			if k.context != "" && s.ForContext != nil {
				c, _ = s.ForContext(k.context) // read with contexts=: from its own
			}
		}
		if c != nil {
			gv, _ := schema.ParseGroupVersion(k.apiVersion)
			kind := k.kind + "." + gv.Version + "." + gv.Group
			ctx := sys.Context(thread)
			if len(group) == 1 {
				l, _ = c.GetRow(ctx, kind, group[0].str("metadata", "name"), k.namespace)
			} else {
				l, _ = c.ListRows(ctx, kind, kube.ListOptions{Namespace: k.namespace})
			}
		}
		gvk := schema.FromAPIVersionAndKind(k.apiVersion, k.kind)
		rd := &read{resource: kube.Resource{GVK: gvk, GVR: gvk.GroupVersion().WithResource(k.kind)}, namespace: k.namespace}
		byName := map[string][]any{}
		if l != nil {
			rd.resource, rd.rows = l.Resource, l.Rows
			if l.Rows != nil {
				for i, item := range l.Raw {
					byName[newRawObject(item).str("metadata", "name")] = l.Rows.Cells[i]
				}
			}
		}
		for _, o := range group {
			o.row = &tableRow{read: rd, cells: byName[o.str("metadata", "name")]}
			if o.row.cells == nil && rd.rows != nil {
				// Gone since: its name, and blanks.
				o.row.cells = make([]any, len(rd.rows.Columns))
				o.row.cells[0] = o.str("metadata", "name")
			}
		}
	}
}

// trackingWriter counts what was written, and separatorWriter puts a blank
// line before what comes next once ready: kubectl get's writers between
// the tables of several kinds.
type trackingWriter struct {
	w io.Writer
	n int
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.n += len(p)
	return t.w.Write(p)
}

type separatorWriter struct {
	w     io.Writer
	ready bool
}

func (s *separatorWriter) Write(p []byte) (int, error) {
	if len(p) != 0 && s.ready {
		fmt.Fprintln(s.w)
		s.ready = false
	}
	return s.w.Write(p)
}

// printTable lays out a table as kubectl get does, through cli-runtime's
// table printer (printers.NewTablePrinter on a metav1.Table, into its own
// tabwriter): a cell is cut at its first line break, with "..." after it,
// and terminal escapes in it are made harmless (ESC prints as "^[", CR as
// "\r"), so that no cluster data drives the terminal. The header, which
// kubectl prints as it is, goes through the same escaping here.
func printTable(header []string, rows [][]string) string {
	t := &metav1.Table{
		ColumnDefinitions: make([]metav1.TableColumnDefinition, len(header)),
		Rows:              make([]metav1.TableRow, len(rows)),
	}
	names := make([]string, len(header))
	for i, h := range header {
		names[i] = safeHeader(h)
		t.ColumnDefinitions[i] = metav1.TableColumnDefinition{Name: names[i], Type: "string"}
	}
	for i, row := range rows {
		cells := make([]any, len(row))
		for j, c := range row {
			cells[j] = c
		}
		t.Rows[i] = metav1.TableRow{Cells: cells}
	}
	var b strings.Builder
	if len(rows) == 0 {
		// The printer prints nothing for no rows; k8sh prints the header.
		b.WriteString(strings.Join(names, "   "))
	} else if err := printers.NewTablePrinter(printers.PrintOptions{}).PrintObj(t, &b); err != nil {
		return err.Error()
	}
	return strings.TrimRight(b.String(), "\n")
}

// safeHeader is a column name as the table printer writes a cell: cut at
// its first line break, terminal escapes made harmless.
func safeHeader(h string) string {
	if i := strings.IndexAny(h, "\f\n\r"); i >= 0 {
		h = h[:i] + "..."
	}
	return printers.EscapeTerminal(h)
}

// str reads a string field at path from JSON data, "" when absent.
func str(m map[string]any, path ...string) string {
	var cur any = m
	for _, p := range path {
		mm, ok := cur.(map[string]any)
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	s, _ := cur.(string)
	return s
}

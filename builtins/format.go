package builtins

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fatih/color"
	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/printers"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

// Output formats of k8s.print, as kubectl -o names them; templateOutputs
// (columns.go) are the ones that take an argument ("jsonpath=...").
var outputs = []string{"table", "wide", "yaml", "json", "name"}

// Echo renders a value as the REPL shows it: YAML for one object (without
// managedFields), the kubectl get table for a list of objects, repr for
// anything else, and nothing for None.
func Echo(thread *starlark.Thread, v starlark.Value) string {
	switch v := v.(type) {
	case starlark.NoneType:
		return ""
	case *Object:
		s, _ := render(thread, v, "yaml")
		return colorize(s, "yaml")
	case *starlark.List:
		if objs, ok := objectsOf(v); ok && len(objs) > 0 {
			s, _ := render(thread, v, "table")
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

// render formats v (a k8s.object, a list of them, or any value) in output.
func render(thread *starlark.Thread, v starlark.Value, output string) (string, error) {
	if isTemplateOutput(output) {
		return renderTemplate(thread, v, output) // columns.go
	}
	if !slices.Contains(outputs, output) {
		return "", unknownOutput(output)
	}
	var objs []*Object
	single := false
	switch v := v.(type) {
	case *Object:
		objs, single = []*Object{v}, true
	case *starlark.List:
		var ok bool
		if objs, ok = objectsOf(v); !ok {
			objs = nil
		}
	}
	if objs == nil {
		if output == "json" || output == "yaml" {
			return encode(v, output)
		}
		if s, ok := v.(starlark.String); ok {
			return string(s), nil
		}
		return v.String(), nil
	}
	switch output {
	case "name":
		names := make([]string, len(objs))
		for i, o := range objs {
			// Names the server accepts hold no escapes; a dict's may.
			names[i] = printers.EscapeTerminal(objectName(o))
		}
		return strings.Join(names, "\n"), nil
	case "yaml", "json":
		if single {
			return encode(cleaned(objs[0]), output)
		}
		items := make([]any, len(objs))
		for i, o := range objs {
			items[i] = cleaned(o)
		}
		return encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}, output)
	}
	return table(thread, objs, output == "wide", time.Now()), nil
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
	gv, _ := schema.ParseGroupVersion(str(o.m, "apiVersion"))
	kind := strings.ToLower(str(o.m, "kind"))
	if gv.Group != "" {
		kind += "." + gv.Group
	}
	return kind + "/" + str(o.m, "metadata", "name")
}

func objectsOf(l *starlark.List) ([]*Object, bool) {
	objs := make([]*Object, l.Len())
	for i := range objs {
		o, ok := l.Index(i).(*Object)
		if !ok {
			return nil, false
		}
		if _, ok := o.m["metadata"].(map[string]any); !ok {
			return nil, false
		}
		objs[i] = o
	}
	return objs, true
}

// table prints objects as kubectl get does: with the server's columns for
// the kind when they are all of one kind and the session's cluster serves
// them, else NAME and AGE (and KIND when they are of several kinds). A
// NAMESPACE column comes first when they span several namespaces.
func table(thread *starlark.Thread, objs []*Object, wide bool, now time.Time) string {
	nss, kinds := map[string]bool{}, map[string]bool{}
	for _, o := range objs {
		nss[str(o.m, "metadata", "namespace")] = true
		kinds[str(o.m, "apiVersion")+" "+str(o.m, "kind")] = true
	}
	showNS := len(nss) > 1
	var header []string
	var rows [][]string
	if len(kinds) == 1 {
		header, rows = serverTable(thread, objs, nss, wide)
	}
	if header == nil {
		header, rows = []string{"NAME", "AGE"}, make([][]string, len(objs))
		if len(kinds) > 1 {
			header = []string{"KIND", "NAME", "AGE"}
		}
		for i, o := range objs {
			age := "<unknown>"
			if ts, err := time.Parse(time.RFC3339, str(o.m, "metadata", "creationTimestamp")); err == nil {
				age = duration.HumanDuration(now.Sub(ts))
			}
			rows[i] = []string{str(o.m, "metadata", "name"), age}
			if len(kinds) > 1 {
				rows[i] = append([]string{str(o.m, "kind")}, rows[i]...)
			}
		}
	}
	if showNS {
		header = append([]string{"NAMESPACE"}, header...)
		for i := range rows {
			rows[i] = append([]string{str(objs[i].m, "metadata", "namespace")}, rows[i]...)
		}
	}
	return printTable(header, rows)
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

// serverTable asks the cluster for the kind's Table and returns the header
// and one row per object, in the objects' order; nil when it cannot.
func serverTable(thread *starlark.Thread, objs []*Object, nss map[string]bool, wide bool) ([]string, [][]string) {
	s, _ := thread.Local(sessionKey).(*Session)
	if s == nil || s.Cluster == nil {
		return nil, nil
	}
	gv, err := schema.ParseGroupVersion(str(objs[0].m, "apiVersion"))
	kind := str(objs[0].m, "kind")
	if err != nil || kind == "" {
		return nil, nil
	}
	opts := kube.ListOptions{AllNamespaces: len(nss) > 1}
	for ns := range nss {
		opts.Namespace = ns
	}
	if len(objs) == 1 {
		opts.FieldSelector = "metadata.name=" + str(objs[0].m, "metadata", "name")
	}
	t, err := s.Cluster.Table(sys.Context(thread), kind+"."+gv.Version+"."+gv.Group, opts)
	if err != nil {
		return nil, nil
	}
	var cols []int
	var header []string
	for i, c := range t.ColumnDefinitions {
		if wide || c.Priority == 0 {
			cols = append(cols, i)
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	byName := map[string][]string{}
	for _, r := range t.Rows {
		var md struct {
			Metadata struct{ Name, Namespace string }
		}
		if err := json.Unmarshal(r.Object.Raw, &md); err != nil {
			return nil, nil
		}
		cells := make([]string, len(cols))
		for j, c := range cols {
			if c < len(r.Cells) {
				cells[j] = cell(r.Cells[c])
			}
		}
		byName[md.Metadata.Namespace+"/"+md.Metadata.Name] = cells
	}
	rows := make([][]string, len(objs))
	for i, o := range objs {
		name := str(o.m, "metadata", "name")
		row, ok := byName[str(o.m, "metadata", "namespace")+"/"+name]
		if !ok {
			// Gone since it was read: show what we know.
			row = make([]string, len(cols))
			row[0] = name
		}
		rows[i] = row
	}
	return header, rows
}

func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "<none>"
	case string:
		return v
	case float64:
		if v == float64(int64(v)) {
			return strconv.FormatInt(int64(v), 10)
		}
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return fmt.Sprint(v)
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

package builtins

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/util/jsonpath"
)

// customColumns prints kubectl get -o custom-columns=HEADER:PATH,...: a
// header line, then a line per object with, in each column, every value its
// JSONPath finds, joined by ",", or <none>, laid out by kubectl's tabwriter
// with terminal escapes made harmless, as kubectl prints them. (kubectl's
// printer lives in k8s.io/kubectl/pkg/cmd/get, whose package variables
// render kubectl get's help text when a program starts, ~57 ms: k8sh does
// not import it.)
type customColumns struct {
	headers, paths []string
}

// newCustomColumns parses a custom-columns spec, in kubectl's words when it
// is wrong.
func newCustomColumns(spec string) (*customColumns, error) {
	if spec == "" {
		return nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	c := &customColumns{}
	for _, col := range strings.Split(spec, ",") {
		header, path, ok := strings.Cut(col, ":")
		if !ok {
			return nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", col)
		}
		if err := c.add(header, path); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// newCustomColumnsFile parses a custom-columns-file: a line of headers and
// a line of JSONPaths, separated by white space.
func newCustomColumnsFile(text string) (*customColumns, error) {
	const format = "Expected format is one line of space separated headers, one line of space separated column specs."
	lines := bufio.NewScanner(strings.NewReader(text))
	if !lines.Scan() {
		return nil, fmt.Errorf("invalid template, missing header line. %s", format)
	}
	headers := strings.Fields(lines.Text())
	if !lines.Scan() {
		return nil, fmt.Errorf("invalid template, missing spec line. %s", format)
	}
	paths := strings.Fields(lines.Text())
	if len(headers) != len(paths) {
		return nil, fmt.Errorf("number of headers (%d) and field specifications (%d) don't match", len(headers), len(paths))
	}
	c := &customColumns{}
	for i := range headers {
		if err := c.add(headers[i], paths[i]); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *customColumns) add(header, path string) error {
	expr, err := relaxedJSONPath(path)
	if err != nil {
		return err
	}
	c.headers, c.paths = append(c.headers, header), append(c.paths, expr)
	return nil
}

// PrintObj prints obj, an object or a list of them.
func (c *customColumns) PrintObj(obj runtime.Object, out io.Writer) error {
	parsers := make([]*jsonpath.JSONPath, len(c.paths))
	for i, p := range c.paths {
		parsers[i] = jsonpath.New(fmt.Sprintf("column%d", i)).AllowMissingKeys(true)
		if err := parsers[i].Parse(p); err != nil {
			return err
		}
	}
	var objs []map[string]any
	switch o := obj.(type) {
	case *unstructured.UnstructuredList:
		for i := range o.Items {
			objs = append(objs, o.Items[i].Object)
		}
	case *unstructured.Unstructured:
		objs = []map[string]any{o.Object}
	default:
		return fmt.Errorf("custom-columns: cannot print a %T", obj)
	}
	w := printers.GetNewTabWriter(out)
	fmt.Fprintln(w, strings.Join(c.headers, "\t"))
	for _, o := range objs {
		cells := make([]string, len(parsers))
		for i, p := range parsers {
			found, err := p.FindResults(o)
			if err != nil {
				return err
			}
			var vals []string
			for _, vs := range found {
				for _, v := range vs {
					vals = append(vals, printers.EscapeTerminal(fmt.Sprint(v.Interface())))
				}
			}
			if len(found) == 0 || len(found[0]) == 0 {
				vals = append([]string{"<none>"}, vals...)
			}
			cells[i] = strings.Join(vals, ",")
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	return w.Flush()
}

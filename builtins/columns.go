package builtins

import (
	"bytes"
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/lib/file"
)

// templateOutputs are the outputs of k8s.print that take an argument after
// "=", as kubectl get -o takes them: custom columns, JSONPath and Go
// templates, inline or read from a file.
var templateOutputs = []string{
	"custom-columns", "custom-columns-file",
	"go-template", "go-template-file", "template", "templatefile",
	"jsonpath", "jsonpath-as-json", "jsonpath-file",
}

// fileOutputs are the template outputs whose argument is a file's path.
var fileOutputs = map[string]string{
	"custom-columns-file": "custom-columns-file",
	"go-template-file":    "go-template",
	"templatefile":        "go-template",
	"jsonpath-file":       "jsonpath",
}

// isTemplateOutput tells whether output is one of templateOutputs, with or
// without its "=ARGUMENT" (without, kubectl's printer says what is missing).
func isTemplateOutput(output string) bool {
	format, _, _ := strings.Cut(output, "=")
	return slices.Contains(templateOutputs, format)
}

// unknownOutput is kubectl's error for an output it has no printer for,
// listing the outputs k8s.print takes.
func unknownOutput(output string) error {
	allowed := append(slices.Clone(outputs), templateOutputs...)
	slices.Sort(allowed)
	return genericclioptions.NoCompatiblePrinterError{OutputFormat: &output, AllowedFormats: allowed}
}

// renderTemplate prints v with one of templateOutputs through kubectl's own
// printers (its custom-columns printer, cli-runtime's JSONPath and Go
// template printers), on what kubectl get
// gives them: one object as it is (managedFields included), a list of them
// as a List, {"kind": "List", "apiVersion": "v1", "metadata":
// {"resourceVersion": ""}, "items": [...]}. A file's path is read as
// file.read reads it (relative to the script, confined by --sandbox).
func renderTemplate(thread *starlark.Thread, v starlark.Value, output string) (string, error) {
	format, arg, _ := strings.Cut(output, "=")
	obj, err := templateInput(v, format)
	if err != nil {
		return "", err
	}
	var p printers.ResourcePrinter
	if as, ok := fileOutputs[format]; ok && arg != "" {
		text, err := readTemplate(thread, arg)
		if err != nil {
			return "", fmt.Errorf("%s: %w", format, err)
		}
		if as == "custom-columns-file" {
			p, err = newCustomColumnsFile(text)
		} else {
			p, err = templatePrinter(as + "=" + text)
		}
		if err != nil {
			return "", err
		}
	} else if p, err = templatePrinter(output); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := p.PrintObj(obj, &b); err != nil {
		return "", templateError(err)
	}
	return b.String(), nil
}

// templatePrinter is the printer kubectl get -o OUTPUT uses, as kubectl
// get's PrintFlags and CustomColumnsPrintFlags choose it (the latter are
// not imported: see customColumns).
func templatePrinter(output string) (printers.ResourcePrinter, error) {
	format, spec, _ := strings.Cut(output, "=")
	if format != "custom-columns" && format != "custom-columns-file" {
		return genericclioptions.NewKubeTemplatePrintFlags().ToPrinter(output)
	}
	return newCustomColumns(spec)
}

// templateError shortens the printers' execution errors to their first
// line: the JSONPath printer's goes on with a dump of the whole object (of
// every object of a list), which kubectl prints and k8sh leaves out.
func templateError(err error) error {
	msg, _, cut := strings.Cut(err.Error(), ". Printing more information for debugging the template:")
	if !cut {
		return err
	}
	return fmt.Errorf("%s", msg)
}

// readTemplate reads path as file.read does in this run.
func readTemplate(thread *starlark.Thread, path string) (string, error) {
	var opts file.Options
	if s, _ := thread.Local(sessionKey).(*Session); s != nil {
		opts = s.File
	}
	text, err := starlark.Call(thread, file.New(opts).Members["read"], starlark.Tuple{starlark.String(path)}, nil)
	if err != nil {
		return "", err
	}
	return string(text.(starlark.String)), nil
}

// templateInput is what kubectl get gives its printers for v (what
// k8s.apply takes): one object as it is, a list of them as a List.
func templateInput(v starlark.Value, format string) (runtime.Object, error) {
	var a objectsArg
	if err := a.Unpack(v); err != nil {
		return nil, fmt.Errorf("output %s: %w", format, err)
	}
	if a.single {
		return a.objs[0], nil
	}
	list := &unstructured.UnstructuredList{Object: map[string]any{
		"kind": "List", "apiVersion": "v1", "metadata": map[string]any{"resourceVersion": ""},
	}}
	for _, u := range a.objs {
		list.Items = append(list.Items, *u)
	}
	return list, nil
}

// Package yaml is k8sh's yaml module: YAML text to and from Starlark
// values, as kubectl reads and prints it.
package yaml

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

// Module is the yaml module:
//
//	yaml.encode(x)        str
//	yaml.decode(s)        value of the one document in s
//	yaml.decode_all(s)    list of the values of every document in s
var Module = &starlarkstruct.Module{
	Name: "yaml",
	Members: starlark.StringDict{
		"encode": doc.Builtin("yaml.encode", `yaml.encode(x)

Returns x as YAML text, keys sorted, as kubectl -o yaml prints it. x is a
k8s.object, a dict, a list, or any JSON-like value.`, yamlEncode),
		"decode": doc.Builtin("yaml.decode", `yaml.decode(s)

Returns the value of the one YAML document in s: maps become dicts, lists
lists, integers ints. s holding several documents is an error
(see yaml.decode_all).`, yamlDecode),
		"decode_all": doc.Builtin("yaml.decode_all", `yaml.decode_all(s)

Returns the list of the values of every YAML document in s (documents are
separated by "---" lines; empty ones are skipped), as kubectl apply -f reads
a multi-document file.`, yamlDecodeAll),
	},
}

func yamlEncode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var x starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "x", &x); err != nil {
		return nil, err
	}
	g, err := starconv.FromStarlark(x)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out, err := yaml.Marshal(g)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(out), nil
}

// decodeArg decodes the documents of a decode builtin's argument s.
func decodeArg(b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) ([]any, error) {
	var s string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "s", &s); err != nil {
		return nil, err
	}
	docs, err := DecodeDocuments(s)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return docs, nil
}

func yamlDecode(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	docs, err := decodeArg(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	switch len(docs) {
	case 0:
		return starlark.None, nil
	case 1:
		return starconv.ToStarlark(docs[0]), nil
	}
	return nil, fmt.Errorf("%s: the text holds %d documents; use yaml.decode_all", b.Name(), len(docs))
}

func yamlDecodeAll(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	docs, err := decodeArg(b, args, kwargs)
	if err != nil {
		return nil, err
	}
	out := make([]starlark.Value, len(docs))
	for i, d := range docs {
		out[i] = starconv.ToStarlark(d)
	}
	return starlark.NewList(out), nil
}

// DecodeDocuments decodes every non-empty document of a YAML (or JSON)
// stream into plain Go data, integers as int64. An error names the document
// (1-based) and the line within it.
func DecodeDocuments(s string) ([]any, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(s)))
	var docs []any
	for n := 1; ; n++ {
		raw, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if len(bytes.TrimSpace(raw)) == 0 {
			continue
		}
		js, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if string(js) == "null" {
			continue // only comments
		}
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		docs = append(docs, numbersToInt64(v))
	}
}

// numbersToInt64 replaces json.Numbers with int64 (or float64 when not
// integral), in place.
func numbersToInt64(v any) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = numbersToInt64(e)
		}
	case []any:
		for i, e := range v {
			v[i] = numbersToInt64(e)
		}
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, _ := v.Float64()
		return f
	}
	return v
}

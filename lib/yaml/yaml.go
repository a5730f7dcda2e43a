// Package yaml is k8sh's yaml module: YAML text to and from Starlark
// values, as kubectl reads and prints it.
package yaml

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
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
// (1-based), its kind and name where they can be read, and the line in s.
func DecodeDocuments(s string) ([]any, error) {
	docs, err := Documents(s)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(docs))
	for i, d := range docs {
		out[i] = d.Value
	}
	return out, nil
}

// Document is one decoded document of a YAML stream.
type Document struct {
	Value any
	// Index is its place among the stream's non-empty documents, from 1.
	Index int
	// Line is the line of s its text starts on, from 1.
	Line int
}

// Documents decodes every non-empty document of a YAML (or JSON) stream,
// split at "---" lines as kubectl apply -f splits a file
// (k8s.io/apimachinery's YAMLReader). A syntax error is a *DocumentError:
// "document 2 (Deployment web): yaml: line 17: ...", the line counted in
// s, not in the document.
func Documents(s string) ([]Document, error) {
	var (
		docs  []Document
		index int
		buf   strings.Builder
		first = 1 // the line buf starts on
	)
	flush := func() error {
		text := buf.String()
		buf.Reset()
		if strings.TrimSpace(text) == "" {
			return nil
		}
		index++
		v, err := decodeOne(text)
		if err != nil {
			k, n := peekKindName(text)
			return &DocumentError{Index: index, Line: first, Kind: k, Name: n, Err: fileLines(err, first)}
		}
		if v != nil { // nil: only comments
			docs = append(docs, Document{Value: v, Index: index, Line: first})
		}
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	for i, line := range lines {
		if rest, ok := strings.CutPrefix(line, "---"); ok {
			trimmed := strings.TrimSpace(rest)
			if trimmed != "" && trimmed[0] != '#' {
				next := index + 1
				if strings.TrimSpace(buf.String()) != "" {
					next++
				}
				return nil, &DocumentError{Index: next, Line: i + 1,
					Err: fmt.Errorf("yaml: line %d: invalid document separator: %s", i+1, trimmed)}
			}
			if err := flush(); err != nil {
				return nil, err
			}
			first = i + 2
			continue
		}
		buf.WriteString(line)
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return docs, nil
}

// DocumentError is a document of a stream that does not decode.
type DocumentError struct {
	// Index is the document's place among the non-empty ones, from 1;
	// Line the line of the stream it starts on.
	Index, Line int
	// Kind and Name are its top-level kind and metadata.name, when a line
	// of the text gives them.
	Kind, Name string
	Err        error
}

func (e *DocumentError) Error() string {
	what := ""
	switch {
	case e.Kind != "" && e.Name != "":
		what = " (" + e.Kind + " " + e.Name + ")"
	case e.Kind != "":
		what = " (" + e.Kind + ")"
	}
	if !yamlLine.MatchString(e.Err.Error()) {
		// The error does not say where: say where the document starts.
		return fmt.Sprintf("document %d%s, from line %d: %v", e.Index, what, e.Line, e.Err)
	}
	return fmt.Sprintf("document %d%s: %v", e.Index, what, e.Err)
}

func (e *DocumentError) Unwrap() error { return e.Err }

// decodeOne decodes the text of one document; nil when it holds only
// comments.
func decodeOne(text string) (any, error) {
	js, err := yaml.YAMLToJSON([]byte(text))
	if err != nil {
		return nil, err
	}
	if string(js) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return numbersToInt64(v), nil
}

var yamlLine = regexp.MustCompile(`\byaml: line (\d+):`)

// fileLines rewrites the "yaml: line N:" of err, N counted in a document
// that starts on line first, to count in the whole stream.
func fileLines(err error, first int) error {
	msg := err.Error()
	out := yamlLine.ReplaceAllStringFunc(msg, func(m string) string {
		n, _ := strconv.Atoi(yamlLine.FindStringSubmatch(m)[1])
		return fmt.Sprintf("yaml: line %d:", n+first-1)
	})
	if out == msg {
		return err
	}
	return errors.New(out)
}

var (
	kindLine = regexp.MustCompile(`^kind:\s*["']?([A-Za-z0-9]+)["']?\s*(#.*)?$`)
	nameLine = regexp.MustCompile(`^\s+name:\s*["']?([a-z0-9.:-]+)["']?\s*(#.*)?$`)
)

// peekKindName reads the top-level kind and metadata.name of a document's
// text line by line, for the error of a document that does not decode.
func peekKindName(text string) (kind, name string) {
	inMeta := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := kindLine.FindStringSubmatch(line); m != nil && kind == "" {
			kind = m[1]
		}
		switch {
		case strings.HasPrefix(line, "metadata:"):
			inMeta = true
		case inMeta && name == "":
			if m := nameLine.FindStringSubmatch(line); m != nil {
				name = m[1]
			} else if line != "" && line[0] != ' ' && line[0] != '#' {
				inMeta = false
			}
		}
	}
	return kind, name
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

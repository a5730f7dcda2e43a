package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["table"] = doc.Builtin("k8s.table", tableDoc, tableBuiltin)
}

const tableDoc = `k8s.table(rows, headers=None)

Returns rows laid out as kubectl get lays out its tables, as a str to
print(): headers in upper case, columns three spaces apart and as wide
as their widest cell, or 6 characters at least.

  print(k8s.table([(p.metadata.name, p.status.phase) for p in pods], ["name", "phase"]))
  NAME    PHASE
  web-0   Running

rows is a list (or tuple) of rows; a row is a tuple or list of cells, one
per header, or a dict (or k8s.object) of cells by header. Without headers,
the rows must be dicts, and the headers are their keys in the order first
seen; with headers, a dict's keys that are not among them are left out.
A cell is a string as it is, "" for None or a key a dict lacks, and as
str() shows it otherwise (3, 1.5, True, ["a", "b"]).

As in kubectl's tables, a cell is cut at its first line break and ends in
"...", and terminal escapes print harmless (ESC as "^["). No rows print
the header line alone, or "" without headers.`

func tableBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var rowsArg, headersArg starlark.Value = nil, starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "rows", &rowsArg, "headers?", &headersArg); err != nil {
		return nil, err
	}
	rows, err := tableRows(rowsArg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	var headers []string
	if headersArg != starlark.None {
		if headers, err = tableHeaders(headersArg); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	} else {
		seen := map[string]bool{}
		for i, r := range rows {
			m, ok := r.(starlark.IterableMapping)
			if !ok {
				return nil, fmt.Errorf("%s: row %d is a %s: rows that are not dicts need headers", b.Name(), i, r.Type())
			}
			for _, kv := range m.Items() {
				k, ok := kv[0].(starlark.String)
				if !ok {
					return nil, fmt.Errorf("%s: row %d: key %s is a %s, want str", b.Name(), i, kv[0], kv[0].Type())
				}
				if !seen[string(k)] {
					seen[string(k)] = true
					headers = append(headers, string(k))
				}
			}
		}
	}
	if len(headers) == 0 {
		return starlark.String(""), nil
	}
	cells := make([][]string, len(rows))
	for i, r := range rows {
		if cells[i], err = rowCells(r, headers); err != nil {
			return nil, fmt.Errorf("%s: row %d: %w", b.Name(), i, err)
		}
	}
	upper := make([]string, len(headers))
	for i, h := range headers {
		upper[i] = strings.ToUpper(h) // as the table printer shows them, with rows or without
	}
	return starlark.String(printTable(upper, cells)), nil
}

// tableRows is the rows argument as a slice.
func tableRows(v starlark.Value) ([]starlark.Value, error) {
	switch v.(type) {
	case *starlark.List, starlark.Tuple:
	default:
		return nil, fmt.Errorf("rows: got %s, want a list of tuples, lists or dicts", v.Type())
	}
	seq := v.(starlark.Indexable)
	rows := make([]starlark.Value, seq.Len())
	for i := range rows {
		rows[i] = seq.Index(i)
	}
	return rows, nil
}

func tableHeaders(v starlark.Value) ([]string, error) {
	rows, err := tableRows(v)
	if err != nil {
		return nil, fmt.Errorf("headers: got %s, want a list of str", v.Type())
	}
	headers := make([]string, len(rows))
	for i, h := range rows {
		s, ok := h.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("headers[%d]: got %s, want str", i, h.Type())
		}
		headers[i] = string(s)
	}
	return headers, nil
}

// rowCells is the cells of row r under headers.
func rowCells(r starlark.Value, headers []string) ([]string, error) {
	cells := make([]string, len(headers))
	switch r := r.(type) {
	case starlark.IterableMapping:
		for j, h := range headers {
			v, found, err := r.Get(starlark.String(h))
			if err != nil {
				return nil, err
			}
			if found {
				cells[j] = tableCell(v)
			}
		}
	case *starlark.List, starlark.Tuple:
		seq := r.(starlark.Indexable)
		if seq.Len() != len(headers) {
			return nil, fmt.Errorf("%d cells, want %d (one per header)", seq.Len(), len(headers))
		}
		for j := range cells {
			cells[j] = tableCell(seq.Index(j))
		}
	default:
		return nil, fmt.Errorf("got %s, want a tuple, list or dict", r.Type())
	}
	return cells, nil
}

func tableCell(v starlark.Value) string {
	switch v := v.(type) {
	case starlark.String:
		return string(v)
	case starlark.NoneType:
		return ""
	}
	return v.String()
}

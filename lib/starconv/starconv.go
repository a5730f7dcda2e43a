// Package starconv converts between Starlark values and plain Go data, the
// JSON-like form (maps, slices, strings, int64, float64, bool, nil) that
// the Kubernetes API and YAML take and give, and unpacks the argument
// types more than one module shares.
package starconv

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"go.starlark.net/starlark"
)

// A Mapper is a Starlark value that holds plain Go data of its own, as
// k8s.object does: FromStarlark takes its Map as it is.
type Mapper interface {
	starlark.Value
	// Map returns the value as plain Go data that shares no mutable state
	// with it.
	Map() map[string]any
}

// FromStarlark converts a Starlark value into plain JSON-like Go data, the
// form the API takes: dicts and Mappers become maps (string keys only),
// lists and tuples slices, ints int64, and so on.
func FromStarlark(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.String:
		return string(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return nil, fmt.Errorf("integer %s out of range", v)
	case starlark.Float:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("cannot convert %s to JSON", v)
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	case Mapper:
		return v.Map(), nil
	case starlark.IterableMapping:
		out := map[string]any{}
		for _, kv := range v.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, fmt.Errorf("map key %s is a %s, want str", kv[0], kv[0].Type())
			}
			g, err := FromStarlark(kv[1])
			if err != nil {
				return nil, err
			}
			out[string(k)] = g
		}
		return out, nil
	case starlark.Indexable:
		out := make([]any, v.Len())
		for i := range out {
			g, err := FromStarlark(v.Index(i))
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	}
	return nil, fmt.Errorf("cannot convert %s to JSON", v.Type())
}

// ToStarlark converts plain Go data into plain Starlark values: maps become
// dicts (keys sorted), slices lists.
func ToStarlark(v any) starlark.Value {
	switch v := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(v))
		for _, k := range keys {
			d.SetKey(starlark.String(k), ToStarlark(v[k]))
		}
		return d
	case []any:
		out := make([]starlark.Value, len(v))
		for i, e := range v {
			out[i] = ToStarlark(e)
		}
		return starlark.NewList(out)
	}
	return Scalar(v)
}

// Scalar converts a JSON scalar (not a map nor a slice) to Starlark.
func Scalar(v any) starlark.Value {
	switch v := v.(type) {
	case nil:
		return starlark.None
	case bool:
		return starlark.Bool(v)
	case string:
		return starlark.String(v)
	case int64:
		return starlark.MakeInt64(v)
	case int:
		return starlark.MakeInt(v)
	case int32:
		return starlark.MakeInt64(int64(v))
	case float64:
		return starlark.Float(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return starlark.MakeInt64(i)
		}
		f, _ := v.Float64()
		return starlark.Float(f)
	}
	return starlark.String(fmt.Sprint(v))
}

// OrNone unpacks into *p a str argument that may also be None (""), as
// the documented defaults (namespace=None, message=None) promise.
func OrNone(p *string) starlark.Unpacker { return (*noneOrString)(p) }

type noneOrString string

func (a *noneOrString) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		*a = ""
	case starlark.String:
		*a = noneOrString(v)
	default:
		return fmt.Errorf("got %s, want str or None", v.Type())
	}
	return nil
}

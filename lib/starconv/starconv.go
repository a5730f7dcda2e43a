// Package starconv converts between Starlark values and plain Go data, the
// JSON-like form (maps, slices, strings, int64, float64, bool, nil) that
// the Kubernetes API and YAML take and give, and unpacks the argument
// types more than one module shares.
package starconv

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

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

// MaxDepth is how deeply FromStarlark follows dicts and lists into each
// other: far more than any manifest nests (kube-apiserver's own JSON limit
// is 10000), and shallow enough for the Go stack.
const MaxDepth = 1000

// MaxLazyLen bounds a range converted to a list (a list or tuple is
// already in memory; a range is not).
const MaxLazyLen = 1 << 20

// FromStarlark converts a Starlark value into plain JSON-like Go data, the
// form the API takes: dicts and Mappers become maps (string keys only),
// lists and tuples slices, ints int64, bytes the base64 text that the API's
// binary fields take (a Secret's data, a ConfigMap's binaryData), and so on.
// A str must be valid UTF-8 (binary data is bytes), a dict or list must not
// contain itself, and nesting stops at MaxDepth: each is an error that says
// so, never a crash.
func FromStarlark(v starlark.Value) (any, error) {
	c := converter{seen: map[starlark.Value]bool{}}
	g, err := c.from(v)
	if ce, ok := err.(*convError); ok {
		return nil, ce.final()
	}
	return g, err
}

type converter struct {
	depth int
	seen  map[starlark.Value]bool // the containers being converted
}

// convError is a conversion error whose place in the value (".spec.x[2]")
// is put together on the way out, so that converting builds no paths.
type convError struct {
	msg  string   // with %s where the place goes: "" or " at PLACE"
	segs []string // innermost first
}

func (e *convError) Error() string { return e.final().Error() }

func (e *convError) final() error {
	if len(e.segs) == 0 {
		return fmt.Errorf(e.msg, "")
	}
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		b.WriteString(e.segs[i])
	}
	place := b.String()
	if len(place) > 80 {
		place = "..." + place[len(place)-77:]
	}
	return fmt.Errorf(e.msg, " at "+place)
}

func convErrorf(format string, args ...any) *convError {
	return &convError{msg: strings.ReplaceAll(fmt.Sprintf(format, args...), "%", "%%")}
}

// within adds the place seg to err, from the container it was found in.
func within(err error, seg string) error {
	if ce, ok := err.(*convError); ok {
		ce.segs = append(ce.segs, seg)
	}
	return err
}

// mutable tells whether v is a value that can contain itself: a pointer
// (a dict, a list); a tuple, a value of its own, cannot (and cannot be a
// Go map key).
func mutable(v starlark.Value) bool {
	return reflect.ValueOf(v).Kind() == reflect.Pointer
}

func (c *converter) enter(v starlark.Value) error {
	if mutable(v) && c.seen[v] {
		return &convError{msg: "the " + v.Type() + "%s contains itself"}
	}
	if c.depth++; c.depth > MaxDepth {
		c.depth--
		return &convError{msg: fmt.Sprintf("the value%%s is nested more than %d levels deep", MaxDepth)}
	}
	if mutable(v) {
		c.seen[v] = true
	}
	return nil
}

func (c *converter) leave(v starlark.Value) {
	c.depth--
	if mutable(v) {
		delete(c.seen, v)
	}
}

func (c *converter) from(v starlark.Value) (any, error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.String:
		if !utf8.ValidString(string(v)) {
			bad := 0
			for bad < len(v) {
				r, n := utf8.DecodeRuneInString(string(v[bad:]))
				if r == utf8.RuneError && n <= 1 {
					break
				}
				bad += n
			}
			return nil, &convError{msg: fmt.Sprintf("the str%%s is not valid UTF-8 (byte %d is 0x%02x): give binary data as bytes (file.read(path, binary=True), b\"...\"), which become the base64 text the API's binary fields take", bad, v[bad])}
		}
		return string(v), nil
	case starlark.Bytes:
		return base64.StdEncoding.EncodeToString([]byte(v)), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return i, nil
		}
		return nil, &convError{msg: "integer " + v.String() + "%s out of range"}
	case starlark.Float:
		f := float64(v)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &convError{msg: "cannot convert " + v.String() + "%s to JSON"}
		}
		if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
		return f, nil
	case Mapper:
		return v.Map(), nil
	case starlark.IterableMapping:
		if err := c.enter(v); err != nil {
			return nil, err
		}
		defer c.leave(v)
		out := map[string]any{}
		for _, kv := range v.Items() {
			k, ok := kv[0].(starlark.String)
			if !ok {
				return nil, convErrorf("map key %s is a %s, want str", kv[0], kv[0].Type())
			}
			if !utf8.ValidString(string(k)) {
				return nil, convErrorf("map key %q is not valid UTF-8", string(k))
			}
			g, err := c.from(kv[1])
			if err != nil {
				return nil, within(err, "."+string(k))
			}
			out[string(k)] = g
		}
		return out, nil
	case starlark.Indexable:
		// A range is lazy: range(8888888888888) is small until made a list.
		if n := v.Len(); n > MaxLazyLen && v.Type() == "range" {
			return nil, &convError{msg: fmt.Sprintf("the range%%s has %d elements: more than %d, too many to send", n, MaxLazyLen)}
		}
		if err := c.enter(v); err != nil {
			return nil, err
		}
		defer c.leave(v)
		out := make([]any, v.Len())
		for i := range out {
			g, err := c.from(v.Index(i))
			if err != nil {
				return nil, within(err, fmt.Sprintf("[%d]", i))
			}
			out[i] = g
		}
		return out, nil
	}
	return nil, &convError{msg: "cannot convert " + v.Type() + "%s to JSON"}
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

package builtins

import (
	"reflect"

	"go.starlark.net/starlark"
)

// readState remembers an object as it was wrapped (as k8s.get read it), so
// that writing it back sends only what the script changed (see
// Object.Original). Nothing is copied up front: listing 10,000 objects costs
// nothing more. Each map entry of the object is recorded the first time it
// changes, with the value it had: a field set (SetField, SetKey) and an
// array converted into a Starlark list (which the script may then change
// in place; the array itself stays as it was).
type readState struct {
	base    map[string]any // the map NewObject wrapped
	changed map[entryKey]oldEntry
}

// entryKey is one entry of one Go map of the object.
type entryKey struct {
	m uintptr // the map's identity (the map is kept alive by oldEntry.m)
	k string
}

type oldEntry struct {
	m   map[string]any
	v   any  // the value before the first change
	had bool // whether the key was there
}

// remember records entry k of m before its first change. A frozen object
// cannot change: nothing to record.
func (r *objectRoot) remember(m map[string]any, k string) {
	if r.frozen {
		return
	}
	key := entryKey{reflect.ValueOf(m).Pointer(), k}
	if _, ok := r.read.changed[key]; ok {
		return
	}
	if r.read.changed == nil {
		r.read.changed = map[entryKey]oldEntry{}
	}
	v, had := m[k]
	r.read.changed[key] = oldEntry{m: m, v: v, had: had}
}

// Original returns the object as it was when it was read (wrapped by
// NewObject), as plain Go data, whatever the script changed since; nil when
// o is a map inside an object rather than a whole one.
func (o *Object) Original() map[string]any {
	if o.root.read.base == nil || reflect.ValueOf(o.m).Pointer() != reflect.ValueOf(o.root.read.base).Pointer() {
		return nil
	}
	return o.root.original(o.m).(map[string]any)
}

// Changed tells whether the object differs from what was read.
func (o *Object) Changed() bool {
	orig := o.Original()
	return orig == nil || !reflect.DeepEqual(orig, o.Map())
}

// original rebuilds v as it was, from its current state and the entries
// recorded before they changed.
func (r *objectRoot) original(v any) any {
	switch v := v.(type) {
	case map[string]any:
		id := reflect.ValueOf(v).Pointer()
		out := make(map[string]any, len(v))
		for k, e := range v {
			if old, ok := r.read.changed[entryKey{id, k}]; ok {
				if !old.had {
					continue
				}
				e = old.v
			}
			out[k] = r.original(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = r.original(e)
		}
		return out
	case starlark.Value, *Object:
		// Only in a frozen object (see remember), where it never changed.
		return toGo(v)
	}
	return v
}

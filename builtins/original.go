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
	changed []oldEntry     // in the order of their first change
	index   map[entryKey]int
}

// indexFrom is how many changed entries are looked up one by one before
// they get an index: most scripts change a few fields of an object.
const indexFrom = 8

// entryKey is one entry of one Go map of the object.
type entryKey struct {
	m uintptr // the map's identity (the map is kept alive by oldEntry.m)
	k string
}

type oldEntry struct {
	key entryKey
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
	if _, ok := r.read.find(key); ok {
		return
	}
	v, had := m[k]
	r.read.changed = append(r.read.changed, oldEntry{key: key, m: m, v: v, had: had})
	if n := len(r.read.changed); n > indexFrom {
		if r.read.index == nil {
			r.read.index = make(map[entryKey]int, 2*n)
			for i, e := range r.read.changed {
				r.read.index[e.key] = i
			}
		}
		r.read.index[key] = n - 1
	}
}

// find is the recorded entry of key.
func (s *readState) find(key entryKey) (oldEntry, bool) {
	if s.index != nil {
		i, ok := s.index[key]
		if !ok {
			return oldEntry{}, false
		}
		return s.changed[i], true
	}
	for _, e := range s.changed {
		if e.key == key {
			return e, true
		}
	}
	return oldEntry{}, false
}

// Original returns the object as it was when it was read (wrapped by
// NewObject), as plain Go data, whatever the script changed since; nil when
// o is a map inside an object rather than a whole one.
func (o *Object) Original() map[string]any {
	m := o.fields()
	if o.root.read.base == nil || reflect.ValueOf(m).Pointer() != reflect.ValueOf(o.root.read.base).Pointer() {
		return nil
	}
	return o.root.original(m).(map[string]any)
}

// original rebuilds v as it was, from its current state and the entries
// recorded before they changed.
func (r *objectRoot) original(v any) any {
	switch v := v.(type) {
	case map[string]any:
		id := reflect.ValueOf(v).Pointer()
		out := make(map[string]any, len(v))
		for k, e := range v {
			if old, ok := r.read.find(entryKey{id, k}); ok {
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

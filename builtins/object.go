package builtins

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/starconv"
)

// Object is the Starlark value of a Kubernetes object, or of a map inside
// one: the k8s.object type.
//
// It wraps the decoded JSON map (map[string]any, as unstructured holds it)
// and converts a field only when it is read, so that listing 10,000 objects
// costs what decoding them costs and nothing more. Nested maps are Objects
// over the same Go map, so writes through them (o.spec.replicas = 3) land in
// the object. A list is converted on first read into a *starlark.List that
// replaces the []any in the Go map, so that later reads return the same list
// and appends to it are seen by json.encode, apply and everything else that
// reads the object through ToGo.
type Object struct {
	// m holds the object's fields; on an object read lazily (raw not
	// nil), those decoded so far. On a whole object, read it through
	// fields() (every field) or field(k) (one), never directly.
	m map[string]any
	// raw is a whole object as k8s.list or k8s.get read it, each field
	// decoded into m when it is first read: nil once every field is.
	raw  *kube.RawObject
	root *objectRoot
	// row is the object's row of the server's table as it was read, which
	// k8s.print shows; nil for an object that was not read with one.
	row *tableRow
	// context is the kubeconfig context the object was read from when it
	// was read with contexts= (fanout.go): k8s.context_of, the CONTEXT
	// column of its table.
	context string
	// parent, key and items say where a map inside an object was reached:
	// field key of parent, then items levels of list (the map of
	// containers[0] has key "containers" and items 1). The schema of its
	// kind is read there (SchemaPath). parent is nil for a whole object.
	parent *Object
	key    string
	items  int
}

// objectRoot is shared by an object and every value reached through it.
type objectRoot struct {
	frozen bool
	lists  []*starlark.List // lists converted so far, frozen with the object
	read   readState        // the object as wrapped, for Original (original.go)
}

var (
	_ starlark.HasAttrs        = (*Object)(nil)
	_ starlark.HasSetField     = (*Object)(nil)
	_ starlark.HasSetKey       = (*Object)(nil)
	_ starlark.IterableMapping = (*Object)(nil)
	_ starlark.Sequence        = (*Object)(nil)
	_ starlark.Comparable      = (*Object)(nil)
	_ json.Marshaler           = (*Object)(nil)
	_ starconv.Mapper          = (*Object)(nil)
)

// NewObject wraps m, which the Object then owns: callers must not change it
// afterwards except through the Object.
func NewObject(m map[string]any) *Object {
	if m == nil {
		m = map[string]any{}
	}
	return &Object{m: m, root: &objectRoot{read: readState{base: m}}}
}

// newRawObject wraps an object as it was read, decoding each field when it
// is first read: len(), a filter on labels or printing its row never
// decode its data or spec.
func newRawObject(raw *kube.RawObject) *Object {
	m := make(map[string]any, raw.Len())
	return &Object{m: m, raw: raw, root: &objectRoot{read: readState{base: m}}}
}

// fields returns the object's map with every field decoded.
func (o *Object) fields() map[string]any {
	if o.raw == nil {
		return o.m
	}
	if len(o.m) == 0 {
		// Nothing read yet, so nothing refers to the map: one decode.
		o.m = o.raw.Map()
		o.root.read.base = o.m
	} else {
		for _, k := range o.raw.Keys() {
			if _, ok := o.m[k]; !ok {
				o.m[k], _ = o.raw.Field(k)
			}
		}
	}
	o.raw = nil
	return o.m
}

// field returns field k, decoding it first on an object read lazily.
func (o *Object) field(k string) (any, bool) {
	v, ok := o.m[k]
	if ok || o.raw == nil {
		return v, ok
	}
	if v, ok = o.raw.Field(k); ok {
		o.m[k] = v
	}
	return v, ok
}

// rawFieldInto decodes field k of an object read lazily into v (as
// json.Unmarshal does) when k has not been read yet, so that no change of
// it is in the map: a few subfields of k without the maps of all of it. It
// returns false otherwise, or when k does not decode into v.
func (o *Object) rawFieldInto(k string, v any) bool {
	if _, read := o.m[k]; read || o.raw == nil {
		return false
	}
	return o.raw.FieldInto(k, v)
}

// has tells whether the object has field k, without decoding it.
func (o *Object) has(k string) bool {
	if o.raw != nil {
		return o.raw.Has(k)
	}
	_, ok := o.m[k]
	return ok
}

// isMap tells whether field k holds a map, without decoding it.
func (o *Object) isMap(k string) bool {
	if _, ok := o.m[k]; !ok && o.raw != nil {
		return o.raw.IsMap(k)
	}
	v, _ := o.field(k)
	_, ok := v.(map[string]any)
	return ok
}

// str reads a string field at path, "" when absent, decoding only the
// first field of path.
func (o *Object) str(path ...string) string {
	v, _ := o.field(path[0])
	if len(path) == 1 {
		s, _ := v.(string)
		return s
	}
	m, _ := v.(map[string]any)
	return str(m, path[1:]...)
}

// Map returns the object as plain Go data (maps, slices, strings, int64,
// float64, bool, nil), the form unstructured.Unstructured holds. The result
// shares no mutable state with the Object.
func (o *Object) Map() map[string]any {
	return toGo(o.fields()).(map[string]any)
}

func (o *Object) Type() string { return "k8s.object" }

func (o *Object) Truth() starlark.Bool { return o.Len() > 0 }

func (o *Object) Hash() (uint32, error) {
	return 0, fmt.Errorf("unhashable type: k8s.object")
}

func (o *Object) Freeze() {
	if o.root.frozen {
		return
	}
	o.root.frozen = true
	for _, l := range o.root.lists {
		l.Freeze()
	}
}

// String is short for a whole object (<Pod default/web>) and dict-like for a
// map inside one.
func (o *Object) String() string {
	kind := o.str("kind")
	var md map[string]any
	if o.isMap("metadata") {
		v, _ := o.field("metadata")
		md = v.(map[string]any)
	}
	if kind != "" && md != nil {
		name, _ := md["name"].(string)
		if name == "" {
			name, _ = md["generateName"].(string)
		}
		if ns, _ := md["namespace"].(string); ns != "" {
			name = ns + "/" + name
		}
		return fmt.Sprintf("<%s %s>", kind, name)
	}
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range o.keys() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(starlark.String(k).String())
		b.WriteString(": ")
		b.WriteString(o.value(k).String())
	}
	b.WriteByte('}')
	return b.String()
}

func (o *Object) keys() []string {
	if o.raw != nil {
		ks := o.raw.Keys()
		sort.Strings(ks)
		return ks
	}
	ks := make([]string, 0, len(o.m))
	for k := range o.m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// value returns field k as a Starlark value; k must be present.
func (o *Object) value(k string) starlark.Value {
	v, _ := o.field(k)
	if l, ok := v.([]any); ok {
		sl := o.root.list(l, o, k, 1)
		o.root.remember(o.m, k)
		o.m[k] = sl
		return sl
	}
	return o.root.wrap(v, o, k, 0)
}

// list converts a JSON array into a Starlark list whose maps are Objects of
// this root, and remembers it so that freezing the object freezes it. The
// array is field key of parent, items levels of list deep.
func (r *objectRoot) list(l []any, parent *Object, key string, items int) *starlark.List {
	elems := make([]starlark.Value, len(l))
	for i, e := range l {
		if inner, ok := e.([]any); ok {
			elems[i] = r.list(inner, parent, key, items+1)
			continue
		}
		elems[i] = r.wrap(e, parent, key, items)
	}
	sl := starlark.NewList(elems)
	if r.frozen {
		sl.Freeze()
	}
	r.lists = append(r.lists, sl)
	return sl
}

// wrap converts one JSON value (not an array) to Starlark; a map is an
// Object reached at field key of parent, items levels of list deep.
func (r *objectRoot) wrap(v any, parent *Object, key string, items int) starlark.Value {
	switch v := v.(type) {
	case map[string]any:
		return &Object{m: v, root: r, parent: parent, key: key, items: items}
	case *starlark.List:
		return v
	case starlark.Value:
		return v
	}
	return starconv.Scalar(v)
}

// SchemaPath says where the schema of this value is: the apiVersion and
// kind of the whole object, and the field names from it ("[]" for an item
// of a list). The kind is "" for a value that is not part of an object with
// a kind (a plain dict made into an object).
func (o *Object) SchemaPath() (apiVersion, kind string, path []string) {
	top := o
	for ; top.parent != nil && !top.listItem(); top = top.parent {
		for range top.items {
			path = append(path, "[]")
		}
		path = append(path, top.key)
	}
	slices.Reverse(path)
	apiVersion, kind = top.str("apiVersion"), top.str("kind")
	return apiVersion, kind, path
}

// listItem reports whether o is an object in the items of a list kind
// (a PodList's Pod), whose schema is its own kind's.
func (o *Object) listItem() bool {
	pk, k := o.parent.str("kind"), o.str("kind")
	return o.key == "items" && o.items == 1 && o.parent.parent == nil && strings.HasSuffix(pk, "List") && k != ""
}

// Attr returns field name; the methods get, keys, values and items are there
// for maps that have no field of that name (fields win, as in YAML).
func (o *Object) Attr(name string) (starlark.Value, error) {
	if o.has(name) {
		return o.value(name), nil
	}
	if m, ok := objectMethods[name]; ok {
		return m.BindReceiver(o), nil
	}
	return nil, nil
}

func (o *Object) AttrNames() []string {
	names := o.keys()
	for m := range objectMethods {
		if !o.has(m) {
			names = append(names, m)
		}
	}
	sort.Strings(names)
	return names
}

func (o *Object) checkMutable(verb string) error {
	if o.root.frozen {
		return fmt.Errorf("cannot %s frozen k8s.object", verb)
	}
	return nil
}

func (o *Object) SetField(name string, v starlark.Value) error {
	if err := o.checkMutable("set field of"); err != nil {
		return err
	}
	g, err := starconv.FromStarlark(v)
	if err != nil {
		return fmt.Errorf("setting .%s: %w", name, err)
	}
	m := o.fields()
	o.root.remember(m, name)
	m[name] = g
	return nil
}

func (o *Object) Get(k starlark.Value) (starlark.Value, bool, error) {
	s, ok := k.(starlark.String)
	if !ok {
		return nil, false, nil
	}
	if !o.has(string(s)) {
		return nil, false, nil
	}
	return o.value(string(s)), true, nil
}

func (o *Object) SetKey(k, v starlark.Value) error {
	if err := o.checkMutable("insert into"); err != nil {
		return err
	}
	s, ok := k.(starlark.String)
	if !ok {
		return fmt.Errorf("k8s.object keys are strings, got %s", k.Type())
	}
	g, err := starconv.FromStarlark(v)
	if err != nil {
		return fmt.Errorf("setting [%s]: %w", s, err)
	}
	m := o.fields()
	o.root.remember(m, string(s))
	m[string(s)] = g
	return nil
}

func (o *Object) Len() int {
	if o.raw != nil {
		return o.raw.Len()
	}
	return len(o.m)
}

func (o *Object) Iterate() starlark.Iterator {
	return &keyIterator{keys: o.keys()}
}

func (o *Object) Items() []starlark.Tuple {
	ks := o.keys()
	items := make([]starlark.Tuple, len(ks))
	for i, k := range ks {
		items[i] = starlark.Tuple{starlark.String(k), o.value(k)}
	}
	return items
}

func (o *Object) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	eq := reflect.DeepEqual(toGo(o.fields()), toGo(y.(*Object).fields()))
	switch op {
	case syntax.EQL:
		return eq, nil
	case syntax.NEQ:
		return !eq, nil
	}
	return false, fmt.Errorf("%s %s %s not implemented", o.Type(), op, y.Type())
}

// MarshalJSON makes json.encode(obj) give the object's plain data.
func (o *Object) MarshalJSON() ([]byte, error) {
	return json.Marshal(toGo(o.fields()))
}

type keyIterator struct {
	keys []string
	i    int
}

func (it *keyIterator) Next(p *starlark.Value) bool {
	if it.i >= len(it.keys) {
		return false
	}
	*p = starlark.String(it.keys[it.i])
	it.i++
	return true
}

func (it *keyIterator) Done() {}

var objectMethods = map[string]*starlark.Builtin{
	"get": starlark.NewBuiltin("get", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var key string
		var dflt starlark.Value = starlark.None
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key, &dflt); err != nil {
			return nil, err
		}
		o := b.Receiver().(*Object)
		if o.has(key) {
			return o.value(key), nil
		}
		return dflt, nil
	}),
	"keys": starlark.NewBuiltin("keys", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		ks := b.Receiver().(*Object).keys()
		out := make([]starlark.Value, len(ks))
		for i, k := range ks {
			out[i] = starlark.String(k)
		}
		return starlark.NewList(out), nil
	}),
	"values": starlark.NewBuiltin("values", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		o := b.Receiver().(*Object)
		var out []starlark.Value
		for _, k := range o.keys() {
			out = append(out, o.value(k))
		}
		return starlark.NewList(out), nil
	}),
	"items": starlark.NewBuiltin("items", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 0); err != nil {
			return nil, err
		}
		var out []starlark.Value
		for _, t := range b.Receiver().(*Object).Items() {
			out = append(out, t)
		}
		return starlark.NewList(out), nil
	}),
}

// toGo returns plain Go data for a value held in an Object's map: JSON values,
// Starlark lists that replaced arrays, and Objects.
func toGo(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = toGo(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = toGo(e)
		}
		return out
	case *Object:
		return toGo(v.fields())
	case starlark.Value:
		g, err := starconv.FromStarlark(v)
		if err != nil {
			return v.String()
		}
		return g
	}
	return v
}

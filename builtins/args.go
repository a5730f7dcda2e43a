package builtins

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// selectorArg is a label or field selector given as a string
// ("app=web,tier!=db") or a dict ({"app": "web"}).
type selectorArg struct {
	s string
}

var _ starlark.Unpacker = (*selectorArg)(nil)

func (a *selectorArg) Unpack(v starlark.Value) error {
	switch v := v.(type) {
	case starlark.NoneType:
		a.s = ""
	case starlark.String:
		a.s = string(v)
	case starlark.IterableMapping:
		var parts []string
		for _, kv := range v.Items() {
			k, ok := starlark.AsString(kv[0])
			if !ok {
				return fmt.Errorf("selector keys must be str, got %s", kv[0].Type())
			}
			val, ok := starlark.AsString(kv[1])
			if !ok {
				return fmt.Errorf("selector value of %q must be str, got %s", k, kv[1].Type())
			}
			parts = append(parts, k+"="+val)
		}
		sort.Strings(parts)
		a.s = strings.Join(parts, ",")
	default:
		return fmt.Errorf("got %s, want str or dict", v.Type())
	}
	return nil
}

// objectRef names one object, or a kind, the ways kubectl takes them: a
// kind and a name apart ("deploy", "web"), "kind/name", or a k8s.object or
// dict, whose kind (qualified by its apiVersion), name and namespace are
// used. name is "" when only a kind is given.
type objectRef struct {
	kind, name, namespace string
	object                bool // given as a k8s.object or dict
}

const refDoc = `The object can be given as kubectl takes it: a kind and a name
("deploy", "web"), "kind/name" ("deploy/web"), or a k8s.object or dict
(its kind, apiVersion, name and namespace).`

// unpackRef reads the kind-or-object argument target of builtin b, and the
// name given apart ("" for none).
func unpackRef(b *starlark.Builtin, target starlark.Value, name string) (objectRef, error) {
	switch t := target.(type) {
	case starlark.String:
		r := objectRef{kind: string(t), name: name}
		if k, n, ok := strings.Cut(r.kind, "/"); ok {
			if name != "" {
				return objectRef{}, fmt.Errorf("%s: got %q and name=%q: give the name once", b.Name(), r.kind, name)
			}
			if k == "" || n == "" || strings.Contains(n, "/") {
				return objectRef{}, fmt.Errorf("%s: %q: want \"kind/name\"", b.Name(), r.kind)
			}
			r.kind, r.name = k, n
		}
		return r, nil
	case *Object, starlark.IterableMapping:
		if name != "" {
			return objectRef{}, fmt.Errorf("%s: got an object and name=%q: the object names itself", b.Name(), name)
		}
		u, err := toUnstructured(t)
		if err != nil {
			return objectRef{}, fmt.Errorf("%s: %w", b.Name(), err)
		}
		r := objectRef{kind: u.GetKind(), name: u.GetName(), namespace: u.GetNamespace(), object: true}
		if r.kind == "" || r.name == "" {
			return objectRef{}, fmt.Errorf("%s: the object has no kind or metadata.name", b.Name())
		}
		// Qualified by the object's group, so that a kind two groups share
		// resolves to the object's: "Deployment.v1.apps".
		if gv, err := schema.ParseGroupVersion(u.GetAPIVersion()); err == nil && gv.Group != "" && gv.Version != "" {
			r.kind += "." + gv.Version + "." + gv.Group
		}
		return r, nil
	}
	return objectRef{}, fmt.Errorf("%s: got %s, want a kind (str), \"kind/name\", k8s.object or dict", b.Name(), target.Type())
}

// inNamespace is the namespace to look for r in given namespace= ns: the
// object's own, unless ns names another, which is an error.
func (r objectRef) inNamespace(b *starlark.Builtin, ns string) (string, error) {
	switch {
	case r.namespace == "":
		return ns, nil
	case ns != "" && ns != r.namespace:
		return "", fmt.Errorf("%s: the object's namespace %q does not match namespace=%q", b.Name(), r.namespace, ns)
	}
	return r.namespace, nil
}

// unpackNamed is unpackRef for the builtins that act on one named object:
// the name is required, and the namespace is the object's or ns
// (inNamespace).
func unpackNamed(b *starlark.Builtin, target starlark.Value, name, ns string) (objectRef, error) {
	r, err := unpackRef(b, target, name)
	if err != nil {
		return objectRef{}, err
	}
	if r.namespace, err = r.inNamespace(b, ns); err != nil {
		return objectRef{}, err
	}
	if r.name == "" {
		return objectRef{}, fmt.Errorf("%s: which %s? give a name", b.Name(), r.kind)
	}
	return r, nil
}

// ref sets the kind, name and namespace of s from target and s.name.
func (s *selection) ref(b *starlark.Builtin, target starlark.Value) error {
	r, err := unpackRef(b, target, s.name)
	if err != nil {
		return err
	}
	s.kind, s.name = r.kind, r.name
	s.namespace, err = r.inNamespace(b, s.namespace)
	return err
}

// optionalName is a name argument given as a str or None (nil: not given).
func optionalName(b *starlark.Builtin, v starlark.Value) (string, error) {
	switch v := v.(type) {
	case nil, starlark.NoneType:
		return "", nil
	case starlark.String:
		return string(v), nil
	}
	return "", fmt.Errorf("%s: for parameter name: got %s, want str", b.Name(), v.Type())
}

// intOrNone is an int argument that may be None (0).
type intOrNone int64

var _ starlark.Unpacker = (*intOrNone)(nil)

func (a *intOrNone) Unpack(v starlark.Value) error {
	if v == starlark.None {
		*a = 0
		return nil
	}
	i, ok := v.(starlark.Int)
	if !ok {
		return fmt.Errorf("got %s, want int or None", v.Type())
	}
	n, ok := i.Int64()
	if !ok {
		return fmt.Errorf("%s is out of range", i)
	}
	*a = intOrNone(n)
	return nil
}

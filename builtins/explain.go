package builtins

import (
	"context"
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["explain"] = doc.Builtin("k8s.explain", explainDoc, explainBuiltin)
	K8s.Members["schema"] = doc.Builtin("k8s.schema", schemaDoc, schemaBuiltin)
}

// explainCluster is what k8s.explain and k8s.schema need of a cluster:
// kube.Client implements it.
type explainCluster interface {
	Explain(ctx context.Context, path string, opts kube.ExplainOptions) (string, error)
	ExplainField(ctx context.Context, apiVersion, kind string, fields []string, opts kube.ExplainOptions) (string, error)
	KindSchema(ctx context.Context, kind, apiVersion string) (*kube.Schema, error)
	SchemaOf(ctx context.Context, apiVersion, kind string) (*kube.Schema, error)
}

var _ explainCluster = (*kube.Client)(nil)

const explainDoc = `k8s.explain(path, *, recursive=False, max_depth=0, api_version=None, output=None, context=None)

Returns the text kubectl explain prints, made by kubectl's own explain from
the server's OpenAPI v3 schema, for built-in kinds and CRDs alike:
  k8s.explain("deploy.spec.strategy")
  k8s.explain("pods", recursive=True)        # every field, nested
  k8s.explain("hpa.spec", api_version="autoscaling/v1")
  k8s.explain(d.spec.strategy)               # the field of an object held
  help(d.spec.strategy)                      # the same, printed
path is a kind as kubectl takes it ("pods", "deploy", "deployments.apps",
a CRD's plural) followed by field names, or a k8s.object read from the
cluster, or a map inside one (d.spec.template): its kind and the fields it
was reached by. recursive=True lists the fields of fields (max_depth levels
deep when not 0); api_version chooses the group/version; output is
"plaintext" (the default) or "plaintext-openapiv2" (kubectl's older explain,
from the OpenAPI v2 document). The REPL shows the text as it is; it is a
str for scripts.

The OpenAPI documents are kept on disk beside kubectl's discovery cache
(<cache-dir>/openapi/<server>/), each under the hash the server gives it: a
warm explain sends no request, a cold one reads the list of documents and
the one document of the kind's group-version. context names another
kubeconfig context for this one call.`

func explainBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target starlark.Value
		opts   kube.ExplainOptions
		kctx   string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &target, "recursive?", &opts.Recursive,
		"max_depth?", &opts.MaxDepth, "api_version?", starconv.OrNone(&opts.APIVersion),
		"output?", starconv.OrNone(&opts.Output), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	ec, _, err := clusterAs[explainCluster](thread, b, kctx, "this cluster cannot explain")
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	var text string
	switch t := target.(type) {
	case starlark.String:
		text, err = ec.Explain(ctx, string(t), opts)
	case *Object:
		apiVersion, kind, path, perr := objectSchemaPath(t)
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), perr)
		}
		if opts.APIVersion != "" {
			apiVersion = opts.APIVersion
		}
		text, err = ec.ExplainField(ctx, apiVersion, kind, path, opts)
	case *schemaValue:
		text, err = ec.ExplainField(ctx, t.s.APIVersion, t.s.Kind, t.s.Path, opts)
	default:
		return nil, fmt.Errorf("%s: for parameter path: got %s, want str or k8s.object", b.Name(), target.Type())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

// objectSchemaPath is where an object's schema is, or why it has none.
func objectSchemaPath(o *Object) (apiVersion, kind string, path []string, err error) {
	apiVersion, kind, path = o.SchemaPath()
	if kind == "" || apiVersion == "" {
		return "", "", nil, fmt.Errorf("this k8s.object is not part of an object with apiVersion and kind: nothing says which schema it has")
	}
	return apiVersion, kind, path, nil
}

// explainObject is help()'s text for a k8s.object: kubectl explain of its
// kind and the field it is, when it is part of an object with a kind.
func explainObject(thread *starlark.Thread, b *starlark.Builtin, o *Object) (string, bool) {
	apiVersion, kind, path, err := objectSchemaPath(o)
	if err != nil {
		return "", false
	}
	ec, _, err := clusterAs[explainCluster](thread, b, "", "")
	if err != nil {
		return "", false
	}
	text, err := ec.ExplainField(sys.Context(thread), apiVersion, kind, path, kube.ExplainOptions{})
	if err != nil {
		return fmt.Sprintf("%s: %v", o.Type(), err), true
	}
	return strings.TrimRight(text, "\n"), true
}

const schemaDoc = `k8s.schema(kind, *, api_version=None, context=None)

Returns the OpenAPI v3 schema of a kind as data, from the same cached
document k8s.explain reads (built-in kinds and CRDs):
  s = k8s.schema("deploy")
  s.fields["spec"].fields["replicas"].type      # "integer"
  [n for n, f in s.fields["spec"].fields.items() if f.required]
  k8s.schema("pods").lookup("spec.containers.image").description
kind is what kubectl takes ("deploy", "Deployment", "deployments.apps", a
CRD's plural), or a k8s.object (the schema of its kind, or of the field a
map inside one is). api_version chooses the group/version.

A schema has: name (the field's name, the kind's for the top), kind,
api_version, path (the field names from the kind, "[]" for an item of a
list), type (as kubectl explain names it: "Object", "string",
"[]Container", "map[string]string", "ObjectMeta", ...), description,
required (whether the object that has it requires it), required_fields,
enum (a list, or None), default (or None), fields (a dict of field name to
schema, in name order; {} for a scalar, a list or a map), items (the schema
of an item of a list or a value of a map, else None) and lookup(path) (the
schema at a dotted path of field names below it, None when there is none;
lists are stepped through). context names another kubeconfig context.`

func schemaBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kindV      starlark.Value
		apiVersion string
		kctx       string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kindV,
		"api_version?", starconv.OrNone(&apiVersion), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	ec, _, err := clusterAs[explainCluster](thread, b, kctx, "this cluster cannot read schemas")
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	var s *kube.Schema
	switch k := kindV.(type) {
	case starlark.String:
		if strings.TrimSpace(string(k)) == "" {
			return nil, fmt.Errorf("%s: empty kind", b.Name())
		}
		s, err = ec.KindSchema(ctx, string(k), apiVersion)
	case *Object:
		av, kind, path, perr := objectSchemaPath(k)
		if perr != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), perr)
		}
		if apiVersion != "" {
			av = apiVersion
		}
		if s, err = ec.SchemaOf(ctx, av, kind); err == nil {
			if s = s.Lookup(path); s == nil {
				err = fmt.Errorf("the schema of %s %s has no field %s", av, kind, strings.Join(path, "."))
			}
		}
	default:
		return nil, fmt.Errorf("%s: for parameter kind: got %s, want str or k8s.object", b.Name(), kindV.Type())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &schemaValue{s: s}, nil
}

// schemaValue is k8s.schema's value: one node of a kind's schema.
type schemaValue struct {
	s      *kube.Schema
	fields *starlark.Dict // built on first read
}

var _ starlark.HasAttrs = (*schemaValue)(nil)

func (v *schemaValue) Type() string          { return "k8s.schema" }
func (v *schemaValue) Freeze()               {}
func (v *schemaValue) Truth() starlark.Bool  { return true }
func (v *schemaValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", v.Type()) }

func (v *schemaValue) String() string {
	name := v.s.Kind
	for _, p := range v.s.Path {
		if p == "[]" {
			name += "[]"
		} else {
			name += "." + p
		}
	}
	return fmt.Sprintf("<k8s.schema %s %s <%s>>", v.s.APIVersion, name, v.s.Type())
}

func (v *schemaValue) name() string {
	if n := len(v.s.Path); n > 0 {
		return v.s.Path[n-1]
	}
	return v.s.Kind
}

func (v *schemaValue) AttrNames() []string {
	return []string{"api_version", "default", "description", "enum", "fields", "items", "kind", "lookup", "name", "path", "required", "required_fields", "type"}
}

func (v *schemaValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(v.name()), nil
	case "kind":
		return starlark.String(v.s.Kind), nil
	case "api_version":
		return starlark.String(v.s.APIVersion), nil
	case "path":
		return starlark.String(strings.Join(v.s.Path, ".")), nil
	case "type":
		return starlark.String(v.s.Type()), nil
	case "description":
		return starlark.String(v.s.Description()), nil
	case "required":
		return starlark.Bool(v.s.Required), nil
	case "required_fields":
		return starconv.ToStarlark(stringsAny(v.s.RequiredFields())), nil
	case "enum":
		if e := v.s.Enum(); e != nil {
			return starconv.ToStarlark(e), nil
		}
		return starlark.None, nil
	case "default":
		if d := v.s.Default(); d != nil {
			return starconv.ToStarlark(d), nil
		}
		return starlark.None, nil
	case "fields":
		if v.fields == nil {
			names := v.s.Fields()
			d := starlark.NewDict(len(names))
			for _, n := range names {
				d.SetKey(starlark.String(n), &schemaValue{s: v.s.Field(n)})
			}
			d.Freeze()
			v.fields = d
		}
		return v.fields, nil
	case "items":
		if it := v.s.Items(); it != nil {
			return &schemaValue{s: it}, nil
		}
		return starlark.None, nil
	case "lookup":
		return starlark.NewBuiltin("k8s.schema.lookup", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			var path string
			if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &path); err != nil {
				return nil, err
			}
			var parts []string
			for _, p := range strings.Split(strings.Trim(path, "."), ".") {
				if p != "" {
					parts = append(parts, p)
				}
			}
			if s := v.s.Lookup(parts); s != nil {
				return &schemaValue{s: s}, nil
			}
			return starlark.None, nil
		}), nil
	}
	return nil, nil
}

package builtins

import (
	"encoding/json"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/lib/yaml"
)

func init() {
	K8s.Members["patch"] = doc.Builtin("k8s.patch", patchDoc, patchBuiltin)
}

const patchDoc = `k8s.patch(obj_or_kind, [name,] patch, *, type="merge", namespace=None, subresource=None, dry_run=False, context=None)

Patches one object and returns it. The object is a k8s.object or dict (its
kind, name and namespace), "kind/name", or "kind", "name":
k8s.patch(d, {"spec": {"replicas": 2}}), k8s.patch("deploy/web", ...),
k8s.patch("deploy", "web", ...). patch is a dict or list, or JSON or YAML
text. type is "merge" (RFC 7386), "strategic" (Kubernetes strategic merge
patch, for built-in kinds) or "json" (RFC 6902, a list of operations).
subresource="status" patches the status; subresource="scale" the Scale:
k8s.patch("deploy", "web", {"spec": {"replicas": 2}}, subresource="scale").
The fields it changes are owned by "k8sh"; a later k8s.apply takes them
over without a conflict.` + changeDoc

func patchBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		patch   starlark.Value
		typ     = "merge"
		ns, sub string
		dryRun  bool
		kctx    string
	)
	ref, rest, err := refArgs(b, args)
	if err != nil {
		return nil, err
	}
	if err := starlark.UnpackArgs(b.Name(), rest, kwargs, "patch", &patch,
		"type?", &typ, "namespace?", starconv.OrNone(&ns), "subresource?", starconv.OrNone(&sub), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if ref.namespace != "" {
		if ns != "" && ns != ref.namespace {
			return nil, fmt.Errorf("%s: the object's namespace %q does not match namespace=%q", b.Name(), ref.namespace, ns)
		}
		ns = ref.namespace
	}
	kind, name := ref.kind, ref.name
	if _, ok := kube.PatchTypes[typ]; !ok {
		return nil, fmt.Errorf("%s: unknown patch type %q (want \"merge\", \"strategic\" or \"json\")", b.Name(), typ)
	}
	var data any
	switch p := patch.(type) {
	case starlark.String:
		docs, err := yaml.DecodeDocuments(string(p))
		if err != nil {
			return nil, fmt.Errorf("%s: invalid patch: %w", b.Name(), err)
		}
		if len(docs) != 1 {
			return nil, fmt.Errorf("%s: the patch text holds %d documents, want one", b.Name(), len(docs))
		}
		data = docs[0]
	default:
		g, err := starconv.FromStarlark(patch)
		if err != nil {
			return nil, fmt.Errorf("%s: patch: %w", b.Name(), err)
		}
		data = g
	}
	js, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("%s: patch: %w", b.Name(), err)
	}
	ch, err := begin(thread, b, kctx, dryRun, "patch "+ref.what())
	if err != nil {
		return nil, err
	}
	out, err := ch.w.Patch(sys.Context(thread), kind, name, ns, typ, js, sub, ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("patched", v, out)
	return v, nil
}

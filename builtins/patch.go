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

const patchDoc = `k8s.patch(kind, name, patch, *, type="merge", namespace=None, subresource=None, dry_run=False, context=None)

Patches one object and returns it. patch is a dict or list, or JSON or YAML
text. type is "merge" (RFC 7386), "strategic" (Kubernetes strategic merge
patch, for built-in kinds) or "json" (RFC 6902, a list of operations).
subresource="status" patches the status; subresource="scale" the Scale:
k8s.patch("deploy", "web", {"spec": {"replicas": 2}}, subresource="scale").` + changeDoc

func patchBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name string
		patch      starlark.Value
		typ        = "merge"
		ns, sub    string
		dryRun     bool
		kctx       string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "kind", &kind, "name", &name, "patch", &patch,
		"type?", &typ, "namespace?", starconv.OrNone(&ns), "subresource?", starconv.OrNone(&sub), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
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
	ch, err := begin(thread, b, kctx, dryRun, "patch "+kind+"/"+name)
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

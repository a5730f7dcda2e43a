package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["diff"] = doc.Builtin("k8s.diff", diffDoc, diffBuiltin)
}

const diffDoc = `k8s.diff(objs, *, namespace=None, parallel=8, context=None)

What k8s.apply(objs) would change, as a unified diff text of the live
objects against the result of a server-side dry-run apply, in YAML, leaving
out managedFields, resourceVersion, generation, uid and timestamps. The
text is empty when nothing would change; an object that does not exist yet
diffs against /dev/null. ` + objsDoc + `
context names another kubeconfig context to compare with.`

func diffBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		objsV    starlark.Value
		ns, kctx string
		parallel = kube.DefaultParallel
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "objs", &objsV, "namespace?", starconv.OrNone(&ns), "parallel?", &parallel, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if parallel < 1 {
		return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), parallel)
	}
	var objs objectsArg
	if err := objs.unpack(thread, b, objsV); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ch, err := begin(thread, b, kctx, true, "")
	if err != nil {
		return nil, err
	}
	text, err := ch.w.Diff(sys.Context(thread), objs.objs, kube.ApplyOptions{Namespace: ns, Parallel: parallel})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

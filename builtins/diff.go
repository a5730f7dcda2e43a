package builtins

import (
	"fmt"
	"strings"

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
out managedFields, resourceVersion, generation, uid and timestamps, and
status for kinds with a status subresource (a controller's business, which
an apply leaves alone). The text is empty when nothing would change, so
k8s.diff right after k8s.apply is "": the dry run is pinned to the
resourceVersion read, and repeated when the object changed in between, as
kubectl diff does. An object that does not exist yet diffs against
/dev/null. ` + objsDoc + `

The diff always shows what the apply would do with force=True: fields
other managers own (a kubectl apply --server-side, a controller) are listed
under the object's diff in "# " lines, each with its manager, since
k8s.apply fails on them without force=True. Fields k8s.apply takes over by
itself are not listed: those kubectl apply (client-side) set, and those of
k8sh's own k8s.update, k8s.patch and k8s.modify. One object failing does
not hide the others: the error lists each failure and is followed by the
diff of the others.

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
	if err != nil && text != "" {
		return nil, fmt.Errorf("%s: %w; what the others would change:\n%s", b.Name(), err, strings.TrimSuffix(text, "\n"))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["kustomize"] = doc.Builtin("k8s.kustomize", kustomizeDoc, kustomizeBuiltin)
}

const kustomizeDoc = `k8s.kustomize(dir)

Builds the kustomization in dir (a directory holding a kustomization.yaml,
kustomization.yml or Kustomization) as kubectl kustomize DIR does, and
returns the list of the built objects, in kubectl's order, without
sending anything to a cluster:
  objs = k8s.kustomize("overlays/prod")
  k8s.diff(objs); k8s.apply(objs)
k8s.apply("overlays/prod/") does the same as kubectl apply -k. dir is
relative to the script's directory; with --sandbox, kustomizations are not
built (they may read files outside it).`

func kustomizeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var dir string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "dir", &dir); err != nil {
		return nil, err
	}
	if dir == "" || strings.Contains(dir, "\n") {
		return nil, fmt.Errorf("%s: got %q, want the path of a directory", b.Name(), dir)
	}
	r := &manifestReader{thread: thread, b: b}
	if err := r.kustomization(dir); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out := make([]starlark.Value, len(r.out))
	for i, m := range r.out {
		out[i] = NewObject(m.obj.Object)
	}
	return starlark.NewList(out), nil
}

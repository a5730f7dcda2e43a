package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/k8sh/k8sh/kube"
)

// K8s is the k8s module:
//
//	k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>)
var K8s = &starlarkstruct.Module{
	Name: "k8s",
	Members: starlark.StringDict{
		"get": newBuiltin("k8s.get", getDoc, get),
	},
}

const getDoc = `k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>)

Reads from the cluster. With a name, returns that one object (a k8s.object);
without one, returns the list of every object of the kind, read page by page.

kind is what kubectl takes: "pods", "pod", "po", "Pod", "deployments.apps",
"deployment.v1.apps", or a CRD's plural, singular, kind or short name.
"kind/name" gives both at once: k8s.get("pod/web").

namespace defaults to the session's namespace (kubeconfig context or -n);
it is ignored for cluster-scoped kinds. all_namespaces=True lists across all.
selector is a label selector, as a string ("app=web,tier!=db") or a dict
({"app": "web"}); fields a field selector in the same forms.

default: when given, a missing named object returns this value instead of
failing: k8s.get("pod", "web", default=None).`

func get(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		kind, name, namespace string
		allNamespaces         bool
		selector, fields      selectorArg
		dflt                  starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &kind, "name?", &name, "namespace?", &namespace,
		"all_namespaces?", &allNamespaces, "selector?", &selector, "fields?", &fields,
		"default?", &dflt); err != nil {
		return nil, err
	}
	if k, n, ok := strings.Cut(kind, "/"); ok {
		if name != "" {
			return nil, fmt.Errorf("%s: got %q and name=%q: give the name once", b.Name(), kind, name)
		}
		kind, name = k, n
	}
	c, err := cluster(thread, b)
	if err != nil {
		return nil, err
	}
	ctx := threadContext(thread)
	if name != "" {
		if allNamespaces || selector.s != "" || fields.s != "" {
			return nil, fmt.Errorf("%s: all_namespaces, selector and fields select a list; they cannot be used with a name", b.Name())
		}
		obj, err := c.Get(ctx, kind, name, namespace)
		if err != nil {
			if dflt != nil && apierrors.IsNotFound(err) {
				return dflt, nil
			}
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return NewObject(obj.Object), nil
	}
	list, err := c.List(ctx, kind, kube.ListOptions{
		Namespace: namespace, AllNamespaces: allNamespaces,
		LabelSelector: selector.s, FieldSelector: fields.s,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	items := make([]starlark.Value, len(list.Items))
	for i := range list.Items {
		items[i] = NewObject(list.Items[i].Object)
	}
	return starlark.NewList(items), nil
}

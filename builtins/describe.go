package builtins

import (
	"context"
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["describe"] = doc.Builtin("k8s.describe", describeDoc, describeBuiltin)
}

// describeCluster is what k8s.describe needs of a cluster: kube.Client
// implements it.
type describeCluster interface {
	Describe(ctx context.Context, kind string, opts kube.DescribeOptions) (string, error)
}

var _ describeCluster = (*kube.Client)(nil)

const describeDoc = `k8s.describe(target_or_kind, name=None, *, namespace=None, selector=None, all_namespaces=False, show_events=None, context=None, contexts=None, parallel=16, timeout=None)

Returns the text kubectl describe prints, made by kubectl's own describers
(the one for each built-in kind, the generic one for CRDs and the rest):
  k8s.describe("pod", "web-5fc9")      # or "pod/web-5fc9", or a k8s.object
  print(k8s.describe(deploy))
  k8s.describe("pods", selector="app=web")
The REPL shows the text as it is; it is a str for scripts.

With a kind and no name it describes every object that namespace,
all_namespaces and selector select, separated as kubectl separates them;
"" when nothing matches. A name that no object has describes, as kubectl
does, the objects whose names start with it ("web" describes web-1 and
web-2), else fails as not found.

show_events=True adds the Events about each object, False leaves them out;
by default (None) they are shown for one object and left out for several
or for a prefix match, as kubectl --show-events defaults. ` + refDoc + `

context names another kubeconfig context for this one call. With
contexts=, a dict of context name to text.

` + fanoutDoc

func describeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target     starlark.Value
		nameV      starlark.Value = starlark.None
		s          selection
		showEvents starlark.Value = starlark.None
	)
	var f fanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, append([]any{"target_or_kind", &target, "name?", &nameV,
		"namespace?", starconv.OrNone(&s.namespace), "selector?", &s.selector, "all_namespaces?", &s.allNamespaces,
		"show_events?", &showEvents, "context?", starconv.OrNone(&s.context)}, f.args(true)...)...); err != nil {
		return nil, err
	}
	name, err := optionalName(b, nameV)
	if err != nil {
		return nil, err
	}
	s.name = name
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	opts := kube.DescribeOptions{ListOptions: s.options(), Name: s.name}
	switch v := showEvents.(type) {
	case starlark.NoneType:
	case starlark.Bool:
		show := bool(v)
		opts.ShowEvents = &show
	default:
		return nil, fmt.Errorf("%s: for parameter show_events: got %s, want bool or None", b.Name(), showEvents.Type())
	}
	if s.name != "" && (s.allNamespaces || s.selector.s != "") {
		return nil, fmt.Errorf("%s: a name (%q) and a selector or all_namespaces: give one", b.Name(), s.name)
	}
	if f.on() {
		names, err := f.names(thread, b, s.context)
		if err != nil {
			return nil, err
		}
		results := fanRun(thread, b, &f, names, func(ctx context.Context, _ string, c Cluster) (string, error) {
			dc, ok := c.(describeCluster)
			if !ok {
				return "", fmt.Errorf("this cluster cannot describe")
			}
			return dc.Describe(ctx, s.kind, opts)
		})
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		return byContext(results, func(t string) starlark.Value { return starlark.String(t) }), nil
	}
	dc, _, err := clusterAs[describeCluster](thread, b, s.context, "this cluster cannot describe")
	if err != nil {
		return nil, err
	}
	text, err := dc.Describe(sys.Context(thread), s.kind, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.String(text), nil
}

package builtins

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["tree"] = doc.Builtin("k8s.tree", treeDoc, treeBuiltin)
	K8s.Members["owners"] = doc.Builtin("k8s.owners", ownersDoc, owners)
}

// treeCluster is what k8s.tree and k8s.owners need of a cluster:
// kube.Client implements it.
type treeCluster interface {
	NamespaceObjects(ctx context.Context, ns string) ([]unstructured.Unstructured, error)
	Owner(ctx context.Context, ref metav1.OwnerReference, ns string) (*unstructured.Unstructured, error)
}

var _ treeCluster = (*kube.Client)(nil)

const treeDoc = `k8s.tree(target, name=None, *, namespace=None, context=None)

Returns the ownership tree of an object: the objects of its namespace whose
ownerReferences name it, theirs, and so on (a Deployment's ReplicaSets and
their Pods; a CR's objects), found as kubectl-tree finds them, by one list
of each namespaced kind the server serves. The REPL and print show it as
kubectl-tree does:
  NAMESPACE  NAME                        READY  REASON  AGE
  default    Deployment/web              True           5m
  default    └─ReplicaSet/web-5fc9       True           5m
  default      ├─Pod/web-5fc9-abcde      True           5m
  default      └─Pod/web-5fc9-fghij      True           5m
READY is "True" when kstatus finds the object Current, "False" when it is
InProgress or Failed (REASON says why), "-" when kstatus cannot tell.
The value is data too: .object (the k8s.object) and .children (trees),
ordered by kind, then name. ` + refDoc + `

context names another kubeconfig context for this one call.`

const ownersDoc = `k8s.owners(obj, name=None, *, namespace=None, context=None)

Returns the chain of an object's owners, nearest first, up to the top one,
as k8s.objects, by following each object's controller ownerReference (the
first one when none is the controller): for a Pod of a Deployment, its
ReplicaSet and then the Deployment. [] for an object no one owns. ` + refDoc

// treeArgs unpacks the object argument of k8s.tree and k8s.owners and reads
// the object.
func treeArgs(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (treeCluster, *unstructured.Unstructured, error) {
	var (
		target   starlark.Value
		nameV    starlark.Value = starlark.None
		ns, kctx string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "name?", &nameV,
		"namespace?", starconv.OrNone(&ns), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, nil, err
	}
	name, err := optionalName(b, nameV)
	if err != nil {
		return nil, nil, err
	}
	r, err := unpackNamed(b, target, name, ns)
	if err != nil {
		return nil, nil, err
	}
	tc, c, err := clusterAs[treeCluster](thread, b, kctx, "this cluster cannot read owners")
	if err != nil {
		return nil, nil, err
	}
	obj, err := c.Get(sys.Context(thread), r.kind, r.name, r.namespace)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return tc, obj, nil
}

func treeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	tc, root, err := treeArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	ns := root.GetNamespace()
	var objs []unstructured.Unstructured
	if ns != "" {
		if objs, err = tc.NamespaceObjects(sys.Context(thread), ns); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	children := map[types.UID][]*unstructured.Unstructured{}
	for i := range objs {
		for _, ref := range objs[i].GetOwnerReferences() {
			children[ref.UID] = append(children[ref.UID], &objs[i])
		}
	}
	for _, cs := range children {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].GetKind() != cs[j].GetKind() {
				return cs[i].GetKind() < cs[j].GetKind()
			}
			return cs[i].GetName() < cs[j].GetName()
		})
	}
	seen := map[types.UID]bool{}
	var build func(o *unstructured.Unstructured) *treeNode
	build = func(o *unstructured.Unstructured) *treeNode {
		n := &treeNode{obj: o, object: NewObject(o.Object)}
		if seen[o.GetUID()] {
			return n // an ownership cycle
		}
		seen[o.GetUID()] = true
		for _, c := range children[o.GetUID()] {
			n.children = append(n.children, build(c))
		}
		return n
	}
	return build(root), nil
}

func owners(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	tc, obj, err := treeArgs(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	var out []starlark.Value
	seen := map[types.UID]bool{obj.GetUID(): true}
	for {
		refs := obj.GetOwnerReferences()
		if len(refs) == 0 {
			break
		}
		ref := refs[0]
		for _, r := range refs {
			if r.Controller != nil && *r.Controller {
				ref = r
				break
			}
		}
		if seen[ref.UID] {
			break
		}
		seen[ref.UID] = true
		if obj, err = tc.Owner(sys.Context(thread), ref, obj.GetNamespace()); err != nil {
			return nil, fmt.Errorf("%s: owner %s/%s: %w", b.Name(), ref.Kind, ref.Name, err)
		}
		out = append(out, NewObject(obj.Object))
	}
	return starlark.NewList(out), nil
}

// treeNode is k8s.tree's value: an object and the trees of what it owns.
type treeNode struct {
	obj      *unstructured.Unstructured
	object   *Object
	children []*treeNode
}

var _ starlark.HasAttrs = (*treeNode)(nil)

func (n *treeNode) Type() string          { return "k8s.tree" }
func (n *treeNode) Freeze()               {}
func (n *treeNode) Truth() starlark.Bool  { return true }
func (n *treeNode) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", n.Type()) }
func (n *treeNode) AttrNames() []string   { return []string{"children", "object"} }

func (n *treeNode) Attr(name string) (starlark.Value, error) {
	switch name {
	case "object":
		return n.object, nil
	case "children":
		cs := make([]starlark.Value, len(n.children))
		for i, c := range n.children {
			cs[i] = c
		}
		l := starlark.NewList(cs)
		l.Freeze()
		return l, nil
	}
	return nil, nil
}

// String is the tree as kubectl-tree prints it, without its last line
// break.
func (n *treeNode) String() string {
	var sb strings.Builder
	w := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', 0) // kubectl-tree's spacing
	fmt.Fprintln(w, "NAMESPACE\tNAME\tREADY\tREASON\tAGE")
	now := time.Now()
	var walk func(n *treeNode, prefix, branch string)
	walk = func(n *treeNode, prefix, branch string) {
		ready, reason := treeReady(n.obj)
		age := "<unknown>"
		if ts := n.obj.GetCreationTimestamp(); !ts.IsZero() {
			age = duration.HumanDuration(now.Sub(ts.Time))
		}
		fmt.Fprintf(w, "%s\t%s%s/%s\t%s\t%s\t%s\n", n.obj.GetNamespace(), prefix+branch, n.obj.GetKind(), n.obj.GetName(), ready, reason, age)
		next := prefix
		switch branch {
		case "├─":
			next += "│ "
		case "└─":
			next += "  "
		}
		for i, c := range n.children {
			b := "├─"
			if i == len(n.children)-1 {
				b = "└─"
			}
			walk(c, next, b)
		}
	}
	walk(n, "", "")
	w.Flush()
	return strings.TrimSuffix(sb.String(), "\n")
}

// treeReady is the READY and REASON of an object: kstatus's verdict.
func treeReady(o *unstructured.Unstructured) (string, string) {
	st, err := kube.ComputeStatus(o.Object)
	if err != nil {
		return "-", ""
	}
	switch st.Status {
	case kube.Current:
		return "True", ""
	case "InProgress", "Failed", "Terminating":
		return "False", st.Status
	}
	return "-", ""
}

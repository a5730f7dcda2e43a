package builtins

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["cordon"] = doc.Builtin("k8s.cordon", cordonDoc, cordonBuiltin(true))
	K8s.Members["uncordon"] = doc.Builtin("k8s.uncordon", uncordonDoc, cordonBuiltin(false))
	K8s.Members["drain"] = doc.Builtin("k8s.drain", drainDoc, drainBuiltin)
}

// nodeCluster is what k8s.cordon, k8s.uncordon and k8s.drain need of a
// cluster: kube.Client implements it.
type nodeCluster interface {
	Cordon(ctx context.Context, node string, desired, dryRun bool) (*unstructured.Unstructured, bool, error)
	Drain(ctx context.Context, node string, o kube.DrainOptions) (*kube.DrainResult, error)
}

var _ nodeCluster = (*kube.Client)(nil)

const nodesDoc = `node is a node's name ("kwok-node-1", or "node/kwok-node-1"), a Node
k8s.object, or a list of them; or None with selector= (a label selector of
nodes, as kubectl's --selector), every node it matches.`

const cordonDoc = `k8s.cordon(node=None, *, selector=None, dry_run=False, context=None)

Marks a node unschedulable, as kubectl cordon does. New pods are not
scheduled there; those running stay. Returns the Node (a list of them for
a list or a selector), announced as kubectl prints it: "node/kwok-node-1
cordoned", or "already cordoned".

` + nodesDoc + changeDoc

const uncordonDoc = `k8s.uncordon(node=None, *, selector=None, dry_run=False, context=None)

Marks a node schedulable again, as kubectl uncordon does. Returns the Node
(a list of them for a list or a selector), announced as kubectl prints it:
"node/kwok-node-1 uncordoned", or "already uncordoned".

` + nodesDoc + changeDoc

const drainDoc = `k8s.drain(node=None, *, ignore_daemonsets=True, delete_emptydir_data=False, force=False, grace_period=None, timeout="5m", disable_eviction=False, selector=None, pod_selector=None, dry_run=False, context=None)

Drains a node for maintenance, as kubectl drain does. With kubectl's own
drain library, it cordons the node, then evicts its pods through the
Eviction API, so that PodDisruptionBudgets are honoured, and waits until
they are gone. An eviction that a budget refuses is tried again every 5s, and the
message on stderr says which budget refuses it and why ("The disruption
budget web needs 2 healthy pods and has 2 currently"), until timeout.
  k8s.drain("kwok-node-1")
  k8s.drain("kwok-node-1", dry_run=True).evicted   # what it would evict
  k8s.drain(selector="pool=old", force=True)

Returns struct(node, evicted, ignored) (a list of them for many nodes):
evicted the pods evicted ("namespace/name"; with dry_run, those that
would be), ignored those left on the node (DaemonSet-managed and mirror
pods, pods being deleted already). It prints what kubectl drain prints:
"evicting pod NS/NAME" and "pod/NAME evicted" as they happen, the
warnings (ignored DaemonSet-managed pods, pods without a controller that
force deletes) on stderr, and in the REPL "node/NAME cordoned" and
"node/NAME drained".

` + nodesDoc + `

As kubectl drain's flags: ignore_daemonsets=False refuses a node with
DaemonSet-managed pods; delete_emptydir_data=True evicts pods with
emptyDir volumes (their data is lost), which are refused otherwise;
force=True deletes pods that no controller manages (never recreated),
which are refused otherwise; grace_period (seconds) overrides the pods'
terminationGracePeriodSeconds; timeout (a duration, "5m", or seconds;
None for none) bounds the whole drain; disable_eviction=True deletes the
pods instead of evicting them, bypassing PodDisruptionBudgets;
pod_selector keeps the pods of the node that it matches only. A node
that cannot be drained fails with kubectl's reason; with many nodes, the
others are drained first and the error names each that failed.

dry_run=True (or --dry-run) cordons and evicts as server-side dry runs:
nothing changes, the API server checks each eviction and the list of
what would be evicted is returned.` + changeDoc

// nodesArg reads the node and selector arguments of b: the names of the
// nodes, and whether many were asked for (the value is then a list).
func nodesArg(thread *starlark.Thread, b *starlark.Builtin, c Cluster, v starlark.Value, sel selectorArg) (names []string, many bool, err error) {
	one := func(x starlark.Value) (string, error) {
		switch x := x.(type) {
		case starlark.String:
			k, n, ok := strings.Cut(string(x), "/")
			if !ok {
				return string(x), nil
			}
			switch strings.ToLower(k) {
			case "node", "nodes", "no":
				return n, nil
			}
			return "", fmt.Errorf("%q is not a node", string(x))
		case *Object, starlark.IterableMapping:
			u, err := toUnstructured(x)
			if err != nil {
				return "", err
			}
			if u.GetKind() != "Node" || u.GetName() == "" {
				return "", fmt.Errorf("got a %s, want a Node", u.GetKind())
			}
			return u.GetName(), nil
		}
		return "", fmt.Errorf("got %s, want a node's name, a Node or a list of them", x.Type())
	}
	switch t := v.(type) {
	case starlark.NoneType:
		if sel.s == "" {
			return nil, false, fmt.Errorf("%s: which node? give a name or selector=", b.Name())
		}
		l, err := c.List(sys.Context(thread), "nodes", kube.ListOptions{LabelSelector: sel.s})
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", b.Name(), err)
		}
		for _, item := range l.Items {
			names = append(names, item.GetName())
		}
		return names, true, nil
	case *starlark.List, starlark.Tuple:
		if sel.s != "" {
			return nil, false, fmt.Errorf("%s: give nodes or selector=, not both", b.Name())
		}
		it := t.(starlark.Iterable).Iterate()
		defer it.Done()
		var x starlark.Value
		for i := 0; it.Next(&x); i++ {
			n, err := one(x)
			if err != nil {
				return nil, false, fmt.Errorf("%s: item %d: %w", b.Name(), i, err)
			}
			names = append(names, n)
		}
		return names, true, nil
	}
	if sel.s != "" {
		return nil, false, fmt.Errorf("%s: give nodes or selector=, not both", b.Name())
	}
	n, err := one(v)
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return []string{n}, false, nil
}

// nodesWhat describes names for Mutating: "node/a" or "3 nodes".
func nodesWhat(names []string) string {
	if len(names) == 1 {
		return "node/" + names[0]
	}
	return fmt.Sprintf("%d nodes", len(names))
}

// cordonLine is what kubectl cordon prints of node: "node/a cordoned".
func cordonLine(cordon, changed bool) string {
	verb := "cordoned"
	if !cordon {
		verb = "uncordoned"
	}
	if !changed {
		verb = "already " + verb
	}
	return verb
}

func cordonBuiltin(cordon bool) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			node   starlark.Value = starlark.None
			sel    selectorArg
			dryRun bool
			kctx   string
		)
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "node?", &node, "selector?", &sel, "dry_run?", &dryRun,
			"context?", starconv.OrNone(&kctx)); err != nil {
			return nil, err
		}
		c, err := clusterFor(thread, b, kctx)
		if err != nil {
			return nil, err
		}
		names, many, err := nodesArg(thread, b, c, node, sel)
		if err != nil {
			return nil, err
		}
		verb := "cordon"
		if !cordon {
			verb = "uncordon"
		}
		ch, err := begin(thread, b, kctx, dryRun, verb+" "+nodesWhat(names))
		if err != nil {
			return nil, err
		}
		nc, ok := ch.c.(nodeCluster)
		if !ok {
			return nil, fmt.Errorf("%s: this cluster's nodes cannot be changed", b.Name())
		}
		objs := make([]*unstructured.Unstructured, len(names))
		verbs := make([]string, len(names))
		be := &kube.BulkError{Total: len(names)}
		for i, n := range names {
			u, changed, err := nc.Cordon(sys.Context(thread), n, cordon, ch.dryRun)
			if err != nil {
				be.Errors = append(be.Errors, &kube.ObjectError{Object: "node/" + n, Err: unwrapObjectError(err)})
				continue
			}
			objs[i], verbs[i] = u, cordonLine(cordon, changed)
		}
		var v starlark.Value = starlark.None
		if many {
			v = objectValues(objs)
		} else if objs[0] != nil {
			v = NewObject(objs[0].Object)
		}
		ch.doneEach(v, objs, verbs)
		if len(be.Errors) > 0 {
			return nil, fmt.Errorf("%s: %w", b.Name(), be)
		}
		return v, nil
	}
}

// unwrapObjectError is the error of an *kube.ObjectError, for a BulkError
// that names the object itself.
func unwrapObjectError(err error) error {
	if oe, ok := err.(*kube.ObjectError); ok {
		return oe.Err
	}
	return err
}

func drainBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		node        starlark.Value = starlark.None
		sel, podSel selectorArg
		o                          = kube.DrainOptions{IgnoreDaemonSets: true, GracePeriod: -1}
		grace       starlark.Value = starlark.None
		timeout                    = watchDuration{d: 5 * time.Minute, set: true}
		dryRun      bool
		kctx        string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "node?", &node,
		"ignore_daemonsets?", &o.IgnoreDaemonSets, "delete_emptydir_data?", &o.DeleteEmptyDirData, "force?", &o.Force,
		"grace_period?", &grace, "timeout?", &timeout, "disable_eviction?", &o.DisableEviction,
		"selector?", &sel, "pod_selector?", &podSel, "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if grace != starlark.None {
		g, err := starlark.AsInt32(grace)
		if err != nil || g < 0 {
			return nil, fmt.Errorf("%s: grace_period must be a non-negative int (seconds) or None, got %s", b.Name(), grace)
		}
		o.GracePeriod = g
	}
	if timeout.set {
		o.Timeout = timeout.d
	}
	o.PodSelector = podSel.s
	c, err := clusterFor(thread, b, kctx)
	if err != nil {
		return nil, err
	}
	names, many, err := nodesArg(thread, b, c, node, sel)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "drain "+nodesWhat(names))
	if err != nil {
		return nil, err
	}
	nc, ok := ch.c.(nodeCluster)
	if !ok {
		return nil, fmt.Errorf("%s: this cluster's nodes cannot be drained", b.Name())
	}
	s, _ := session(thread, b)
	o.DryRun = ch.dryRun
	o.Out, o.ErrOut = &lineWriter{thread: thread}, s.Sys.Stderr
	ctx := sys.Context(thread)
	be := &kube.BulkError{Total: len(names)}
	// kubectl drain cordons every node first, then drains them in turn.
	nodes := make([]*unstructured.Unstructured, len(names))
	for i, n := range names {
		u, changed, err := nc.Cordon(ctx, n, true, ch.dryRun)
		if err != nil {
			be.Errors = append(be.Errors, &kube.ObjectError{Object: "node/" + n, Err: unwrapObjectError(err)})
			continue
		}
		nodes[i] = u
		ch.doneEach(nil, []*unstructured.Unstructured{u}, []string{cordonLine(true, changed)})
	}
	results := make([]starlark.Value, 0, len(names))
	for i, n := range names {
		if nodes[i] == nil {
			continue
		}
		res, err := nc.Drain(ctx, n, o)
		if err != nil {
			be.Errors = append(be.Errors, &kube.ObjectError{Object: "node/" + n, Err: err})
			continue
		}
		v := starlarkstruct.FromStringDict(starlark.String("k8s.drain"), starlark.StringDict{
			"node":    starlark.String(n),
			"evicted": stringList(res.Evicted),
			"ignored": stringList(res.Ignored),
		})
		results = append(results, v)
		ch.doneEach(v, []*unstructured.Unstructured{nodes[i]}, []string{"drained"})
	}
	if len(be.Errors) > 0 {
		return nil, fmt.Errorf("%s: %w", b.Name(), be)
	}
	if !many {
		return results[0], nil
	}
	l := starlark.NewList(results)
	rememberChange(thread, l)
	return l, nil
}

package builtins

import (
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
)

// K8s is the k8s module:
//
//	k8s.get(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, default=<raise>, context=None, contexts=None, parallel=16, timeout=None)
//	k8s.list(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None, contexts=None, parallel=16, timeout=None)
//	k8s.iter(kind, *, namespace=None, all_namespaces=False, selector=None, fields=None, where=None, limit=None, context=None, contexts=None, parallel=16, timeout=None)
//	k8s.exists(kind, name, *, namespace=None, context=None, contexts=None, parallel=16, timeout=None)
//	k8s.resources(*, context=None)
//	k8s.last_errors()
//	k8s.context_of(obj)
//	k8s.events(obj_or_kind, name=None, *, namespace=None, context=None, contexts=None, parallel=16, timeout=None)
//	k8s.print(x, output="table")
//	k8s.table(rows, headers=None)
//	k8s.watch(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, fields=None, initial=True, timeout=None, until=None, context=None, contexts=None, parallel=16)
//	k8s.controller(kind, reconcile, *, owns=(), resync="10m", workers=1, namespace=None, all_namespaces=False, selector=None, name=None, context=None)
//	k8s.cached(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, context=None)
//	k8s.wait(kind, name=None, *, namespace=None, selector=None, condition=None, until=None, delete=False, timeout="60s", context=None)
//	k8s.status(obj)
//	k8s.logs(pod_or_obj=None, *, container=None, namespace=None, tail=None, since=None, previous=False, follow=False, selector=None, timestamps=False, timeout=None, context=None, contexts=None, parallel=16)
//	k8s.rollout.status, .history, .undo, .pause, .resume, .restart (the k8s.rollout module: rollout.go)
//	k8s.cordon(node=None, *, selector=None, dry_run=False, context=None)
//	k8s.uncordon(node=None, *, selector=None, dry_run=False, context=None)
//	k8s.plan(fn, *args, **kwargs) (plan.go)
//	k8s.drain(node=None, *, ignore_daemonsets=True, delete_emptydir_data=False, force=False, grace_period=None, timeout="5m", disable_eviction=False, selector=None, pod_selector=None, dry_run=False, context=None)
//	k8s.on(kind, fn, *, namespace=None, all_namespaces=False, selector=None, fields=None, events=("ADDED", "MODIFIED", "DELETED"), initial=False, context=None)
//	k8s.handlers()
//	k8s.run(timeout=None)
//	k8s.stop()
var K8s = &starlarkstruct.Module{
	Name:    "k8s",
	Members: starlark.StringDict{}, // each builtin adds itself, in the file of its name
}

const selectionDoc = `kind is what kubectl takes: "pods", "pod", "po", "Pod", "deployments.apps",
"deployment.v1.apps", or a CRD's plural, singular, kind or short name.

namespace defaults to the session's namespace (kubeconfig context or -n);
it is ignored for cluster-scoped kinds. all_namespaces=True lists across all.
selector is a label selector, as a string ("app=web,tier!=db") or a dict
({"app": "web"}); fields a field selector in the same forms
("status.phase=Running").

context names another kubeconfig context for this one call, without
switching the session's: k8s.list("pods", context="prod"). Its namespace
is that context's default.`

// selection is the arguments that choose objects: kind and where to look.
type selection struct {
	kind, name, namespace string
	context               string
	allNamespaces         bool
	selector, fields      selectorArg
}

func (s *selection) options() kube.ListOptions {
	return kube.ListOptions{
		Namespace: s.namespace, AllNamespaces: s.allNamespaces,
		LabelSelector: s.selector.s, FieldSelector: s.fields.s,
	}
}

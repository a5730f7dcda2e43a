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

// Rollout is the k8s.rollout module, kubectl rollout's verbs:
//
//	k8s.rollout.status(target, name=None, *, revision=None, timeout="5m", watch=True, namespace=None, context=None)
//	k8s.rollout.history(target, name=None, *, revision=None, namespace=None, context=None)
//	k8s.rollout.undo(target, name=None, *, to_revision=None, selector=None, namespace=None, dry_run=False, parallel=8, context=None)
//	k8s.rollout.pause(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)
//	k8s.rollout.resume(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)
//	k8s.rollout.restart(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)
var Rollout = &starlarkstruct.Module{
	Name: "k8s.rollout",
	Members: starlark.StringDict{
		"status":  doc.Builtin("k8s.rollout.status", rolloutStatusDoc, rolloutStatus),
		"history": doc.Builtin("k8s.rollout.history", rolloutHistoryDoc, rolloutHistory),
		"undo":    doc.Builtin("k8s.rollout.undo", rolloutUndoDoc, rolloutChange(kube.RolloutUndo)),
		"pause":   doc.Builtin("k8s.rollout.pause", rolloutPauseDoc, rolloutChange(kube.RolloutPause)),
		"resume":  doc.Builtin("k8s.rollout.resume", rolloutResumeDoc, rolloutChange(kube.RolloutResume)),
		"restart": doc.Builtin("k8s.rollout.restart", rolloutRestartDoc, rolloutChange(kube.RolloutRestart)),
	},
}

func init() {
	K8s.Members["rollout"] = spelled{Rollout}
	// k8s.restart is k8s.rollout.restart by its former name.
	K8s.Members["restart"] = doc.Builtin("k8s.restart", restartDoc, rolloutChange(kube.RolloutRestart))
}

// rolloutCluster is what k8s.rollout needs of a cluster: kube.Client
// implements it.
type rolloutCluster interface {
	RolloutStatus(ctx context.Context, sel kube.Selection, o kube.RolloutStatusOptions) (*unstructured.Unstructured, bool, error)
	RolloutHistory(ctx context.Context, sel kube.Selection, revision int64) (*kube.History, error)
	Rollout(ctx context.Context, op kube.RolloutOp, sels []kube.Selection, o kube.RolloutOptions) ([]kube.Outcome, error)
}

var _ rolloutCluster = (*kube.Client)(nil)

const rolloutTargetDoc = `target is a deployment, statefulset or daemonset as kubectl takes it: a kind
and a name ("deploy", "web"), "kind/name" ("deploy/web"), or a k8s.object or
dict.`

const rolloutTargetsDoc = `target is a deployment (or, for restart and undo, a statefulset or
daemonset) as kubectl takes it: a kind and a name ("deploy", "web"),
"kind/name", a k8s.object or dict; or many of them: a list of those, or a
kind and selector= (every object of that kind that the label selector
matches, as kubectl rollout ... -l). Many are changed parallel at a time;
the value is then the list of the objects in the order given (or in name
order, for a selector), and when some fail the error names each of them
(the others were changed). Each change is announced in kubectl's words.`

const rolloutStatusDoc = `k8s.rollout.status(target, name=None, *, revision=None, timeout="5m", watch=True, namespace=None, context=None)

Waits for a rollout to finish, as kubectl rollout status does. It prints
kubectl's messages as they happen:
  Waiting for deployment "web" rollout to finish: 1 of 3 updated replicas are available...
  deployment "web" successfully rolled out
and returns True when it is done.

` + rolloutTargetDoc + `

revision pins the revision to watch (the status fails if another is
rolling out). watch=False prints the status once and returns whether the
rollout is done. timeout (a duration, "5m", or seconds; None for none)
ends the wait with an error that gives the last status and the pods that
are not ready. A deployment that exceeded its progress deadline fails
at once, in kubectl's words. context names another kubeconfig context for
this one call.`

const rolloutHistoryDoc = `k8s.rollout.history(target, name=None, *, revision=None, namespace=None, context=None)

Returns the revisions of a rollout, as kubectl rollout history shows them.
They come from a deployment's ReplicaSets, or a statefulset's or
daemonset's ControllerRevisions: a list in increasing order, each with number, change_cause
(its kubernetes.io/change-cause annotation, "" when it has none) and
template (the pod template of that revision, a k8s.object). The REPL and
print show it as kubectl rollout history prints it: the table of
revisions, or with revision=N the detail of that revision (and the list
holds that one). ` + rolloutTargetDoc + ` context names another kubeconfig
context for this one call.`

const rolloutUndoDoc = `k8s.rollout.undo(target, name=None, *, to_revision=None, selector=None, namespace=None, dry_run=False, parallel=8, context=None)

Rolls back a rollout, as kubectl rollout undo does. The pod template of
the previous revision (or of to_revision), from its ReplicaSet or
ControllerRevision, becomes the object's, and it returns the object as it
is then: "deployment.apps/web rolled back", or "skipped rollback (current
template already matches revision 2)"; with dry_run, the object as it is
(kubectl's rollbacker keeps the dry run's answer to itself). A paused
deployment is refused, as kubectl refuses it.

` + rolloutTargetsDoc + changeDoc

const rolloutPauseDoc = `k8s.rollout.pause(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)

Pauses the rollout of a deployment, as kubectl rollout pause does. Changes
to its pod template start no rollout until it is resumed. Returns the
object: "deployment.apps/web paused". A deployment that is paused already
fails, in kubectl's words ("is already paused").

` + rolloutTargetsDoc + changeDoc

const rolloutResumeDoc = `k8s.rollout.resume(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)

Resumes the paused rollout of a deployment, as kubectl rollout resume does.
Returns the object: "deployment.apps/web resumed". One that is not paused
fails, in kubectl's words ("is not paused").

` + rolloutTargetsDoc + changeDoc

const rolloutRestartDoc = `k8s.rollout.restart(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)

Restarts the pods of a workload, as kubectl rollout restart does. It sets
the pod template annotation kubectl.kubernetes.io/restartedAt to now, so
the controller rolls the pods, and returns the object:
"deployment.apps/web restarted". A paused deployment is refused, and so is
a second restart within the same second (kubectl's words). k8s.restart is
the same builtin.

` + rolloutTargetsDoc + changeDoc

const restartDoc = `k8s.restart(target, name=None, *, selector=None, namespace=None, dry_run=False, parallel=8, context=None)

Restarts the pods of a workload: k8s.rollout.restart by its former name.
As kubectl rollout restart, it sets the pod template annotation
kubectl.kubernetes.io/restartedAt to now, and returns the object.

` + rolloutTargetsDoc + changeDoc

// rolloutChange is the builtin of a change of op: undo, pause, resume or
// restart.
func rolloutChange(op kube.RolloutOp) func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var (
			target   starlark.Value
			name     string
			sel      selectorArg
			ns, kctx string
			dryRun   bool
			toRev    intOrNone
			parallel = kube.DefaultParallel
		)
		params := []any{"target", &target, "name?", starconv.OrNone(&name)}
		if op == kube.RolloutUndo {
			params = append(params, "to_revision?", &toRev)
		}
		params = append(params, "selector?", &sel, "namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun,
			"parallel?", &parallel, "context?", starconv.OrNone(&kctx))
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, params...); err != nil {
			return nil, err
		}
		if parallel < 1 {
			return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), parallel)
		}
		if toRev < 0 {
			return nil, fmt.Errorf("%s: to_revision must not be negative, got %d", b.Name(), toRev)
		}
		if name != "" {
			// ("deploy", "web"), as kubectl takes it: "deploy/web".
			r, err := unpackRef(b, target, name)
			if err != nil {
				return nil, err
			}
			target = starlark.String(r.kind + "/" + r.name)
		}
		t, err := unpackTargets(b, target, sel, ns, false)
		if err != nil {
			return nil, err
		}
		what := string(op) + " " + t.what
		if op == kube.RolloutUndo {
			what = "undo the rollout of " + t.what
		}
		ch, err := begin(thread, b, kctx, dryRun, what)
		if err != nil {
			return nil, err
		}
		rc, ok := ch.c.(rolloutCluster)
		if !ok {
			return nil, fmt.Errorf("%s: this cluster has no rollouts", b.Name())
		}
		s, _ := session(thread, b)
		res, rerr := rc.Rollout(sys.Context(thread), op, t.sels, kube.RolloutOptions{
			LabelSelector: t.opts.LabelSelector, AllNamespaces: t.opts.AllNamespaces,
			ToRevision: int64(toRev), DryRun: ch.dryRun, Parallel: parallel, Warn: s.Sys.Stderr,
		})
		if res == nil && rerr != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), rerr)
		}
		objs := make([]*unstructured.Unstructured, len(res))
		verbs := make([]string, len(res))
		vals := make([]starlark.Value, len(res))
		for i, r := range res {
			objs[i], verbs[i], vals[i] = r.Object, r.Verb, starlark.None
			if r.Object != nil {
				vals[i] = NewObject(r.Object.Object)
			}
		}
		var v starlark.Value = starlark.NewList(vals)
		if t.single && len(vals) == 1 {
			v = vals[0]
		}
		ch.doneEach(v, objs, verbs)
		if rerr != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), rerr)
		}
		return v, nil
	}
}

func rolloutStatus(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target   starlark.Value
		name     string
		ns, kctx string
		revision intOrNone
		watch    = true
		timeout  = watchDuration{d: 5 * time.Minute, set: true}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "name?", starconv.OrNone(&name),
		"revision?", &revision, "timeout?", &timeout, "watch?", &watch,
		"namespace?", starconv.OrNone(&ns), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if revision < 0 {
		return nil, fmt.Errorf("%s: revision must not be negative, got %d", b.Name(), revision)
	}
	r, err := unpackNamed(b, target, name, ns)
	if err != nil {
		return nil, err
	}
	rc, _, err := clusterAs[rolloutCluster](thread, b, kctx, "this cluster has no rollouts")
	if err != nil {
		return nil, err
	}
	o := kube.RolloutStatusOptions{Revision: int64(revision), Watch: watch,
		Report: func(line string) { thread.Print(thread, line) }}
	if timeout.set {
		o.Timeout = timeout.d
	}
	ctx := sys.Context(thread)
	_, done, err := rc.RolloutStatus(ctx, kube.Selection{Kind: r.kind, Name: r.name, Namespace: r.namespace}, o)
	if err != nil && ctx.Err() != nil {
		return nil, fmt.Errorf("%s: interrupted", b.Name())
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.Bool(done), nil
}

func rolloutHistory(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target   starlark.Value
		name     string
		ns, kctx string
		revision intOrNone
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "name?", starconv.OrNone(&name),
		"revision?", &revision, "namespace?", starconv.OrNone(&ns), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if revision < 0 {
		return nil, fmt.Errorf("%s: revision must not be negative, got %d", b.Name(), revision)
	}
	r, err := unpackNamed(b, target, name, ns)
	if err != nil {
		return nil, err
	}
	rc, _, err := clusterAs[rolloutCluster](thread, b, kctx, "this cluster has no rollouts")
	if err != nil {
		return nil, err
	}
	h, err := rc.RolloutHistory(sys.Context(thread), kube.Selection{Kind: r.kind, Name: r.name, Namespace: r.namespace}, int64(revision))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	revs := make([]starlark.Value, len(h.Revisions))
	for i, rev := range h.Revisions {
		revs[i] = starlarkstruct.FromStringDict(starlark.String("k8s.revision"), starlark.StringDict{
			"number":       starlark.MakeInt64(rev.Number),
			"change_cause": starlark.String(rev.ChangeCause),
			"template":     NewObject(rev.Template),
		})
	}
	list := starlark.NewList(revs)
	list.Freeze()
	return &historyList{List: list, text: strings.TrimSuffix(h.Text, "\n")}, nil
}

// historyList is k8s.rollout.history's value: its revisions, shown as
// kubectl rollout history prints them.
type historyList struct {
	*starlark.List
	text string
}

func (h *historyList) Type() string   { return "k8s.history" }
func (h *historyList) String() string { return h.text }

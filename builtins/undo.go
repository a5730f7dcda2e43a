package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

// JournalConfig is the journal: section of the k8sh config:
//
//	journal:
//	  secret_data: true   # keep Secrets' data, so that undo can restore them
//	  keep: 100           # runs kept; the oldest go first
type JournalConfig struct {
	SecretData bool `json:"secret_data,omitempty"`
	Keep       int  `json:"keep,omitempty"`
}

// Options are the journal's options in kube's terms.
func (c JournalConfig) Options() kube.JournalOptions {
	return kube.JournalOptions{SecretData: c.SecretData, Keep: c.Keep}
}

func init() {
	K8s.Members["undo"] = doc.Builtin("k8s.undo", undoDoc, undoBuiltin)
}

const undoDoc = `k8s.undo(n=1, *, force=False, plan=False)

Takes back the last n changes of this session (of the REPL, or of the
script so far), newest first, from the session's journal: an object the
session created is deleted, one it deleted is created again (without
what the server sets: uid, resourceVersion, creationTimestamp,
managedFields), one it changed gets its previous state back. A change is
one object changed by one request: what the REPL announces with one line
("deployment.apps/web scaled"). Changes already undone are skipped, so
k8s.undo() again goes one further back. Its own changes are journaled in
the session's run, and marked as an undo: k8sh undo of the session later
takes back only what is left of it.

An object changed since the session's change (by someone else, or by a
controller outside its status) is refused, naming who changed it from its
managedFields, unless force=True. A Secret cannot be restored unless the
k8sh config keeps Secrets' data (journal: {secret_data: true}). Objects
deleted by the session that their controller makes again (a Deployment's
Pods) are not created again.

It returns a list, one struct per object: object ("configmap/settings"),
namespace, context, action ("create", "delete", "restore", "none" or
"refuse"), why, and error (None, or what failed). plan=True returns it
without changing anything, each with diff (the unified diff from the live
object to what undo would leave). It fails, after doing the rest, when an
object was refused or failed. The safety policy applies as to any change:
read-only contexts refuse it, protected ones must be confirmed; with
--dry-run it sends server-side dry runs. See docs/plan.md for what undo
cannot do.`

func undoBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	n := 1
	var force, plan bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "n?", &n, "force?", &force, "plan?", &plan); err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, fmt.Errorf("%s: n must be at least 1, got %d", b.Name(), n)
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Journal == nil {
		return nil, fmt.Errorf("%s: this session keeps no journal (--replay)", b.Name())
	}
	run := s.Journal.Run()
	undone := kube.UndoneSeqs([]*kube.Run{run}, run.ID)
	var seqs []int
	made := run.Made()
	for i := len(made) - 1; i >= 0 && len(seqs) < n; i-- {
		c := made[i]
		if _, done := undone[c.Seq]; done || c.Undo != "" {
			continue
		}
		seqs = append(seqs, c.Seq)
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("%s: nothing to undo: this session made no change that is not undone yet", b.Name())
	}
	clientFor := func(name string) (*kube.Client, error) {
		c, err := clusterFor(thread, b, name)
		if err != nil {
			return nil, err
		}
		kc, ok := c.(*kube.Client)
		if !ok {
			return nil, fmt.Errorf("%s: context %q cannot be changed", b.Name(), name)
		}
		return kc, nil
	}
	ctx := sys.Context(thread)
	opts := kube.UndoOptions{Force: force, DryRun: s.DryRun, Seqs: seqs}
	p, err := kube.PlanUndo(ctx, run, undone, clientFor, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if plan {
		return undoSteps(p, true), nil
	}
	for _, name := range p.Contexts() {
		c, err := clusterFor(thread, b, name)
		if err != nil {
			return nil, err
		}
		if cur, err := s.Cluster.Context(); err == nil && cur.Name == name {
			c = s.Cluster // the session's namespace in the question, not the context's default
		}
		if err := Mutating(thread, b, c, "undo the changes of "+undoObjects(p, name), s.DryRun); err != nil {
			return nil, err
		}
	}
	err = p.Do(ctx, clientFor, s.Journal)
	result := undoSteps(p, false)
	var lines, failed []string
	for _, st := range p.Steps {
		lines = append(lines, st.Done(s.DryRun))
		if st.Err != nil || st.Action == kube.UndoRefuse {
			failed = append(failed, kube.BulkName(st.Namespace, st.Done(s.DryRun)))
		}
	}
	if c, cerr := cluster(thread, b); cerr == nil {
		Announce(thread, c, lines, result)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if len(failed) > 0 {
		return nil, fmt.Errorf("%s: %s", b.Name(), strings.Join(failed, "; "))
	}
	return result, nil
}

// undoSteps are the steps of p as Starlark structs.
func undoSteps(p *kube.UndoPlan, withDiff bool) *starlark.List {
	out := make([]starlark.Value, len(p.Steps))
	for i, st := range p.Steps {
		var errV starlark.Value = starlark.None
		if st.Err != nil {
			errV = starlark.String(st.Err.Error())
		}
		d := starlark.StringDict{
			"object":    starlark.String(st.Object),
			"namespace": starlark.String(st.Namespace),
			"context":   starlark.String(st.Context),
			"action":    starlark.String(st.Action),
			"why":       starlark.String(st.Why),
			"error":     errV,
		}
		if withDiff {
			d["diff"] = starlark.String(st.Diff)
		}
		out[i] = starlarkstruct.FromStringDict(starlarkstruct.Default, d)
	}
	return starlark.NewList(out)
}

// undoObjects names the objects p changes in context name: "deployment.apps/web,
// configmap/settings", the first three and how many more.
func undoObjects(p *kube.UndoPlan, name string) string {
	var objs []string
	for _, st := range p.Steps {
		if st.Context == name && st.Action != kube.UndoNone && st.Action != kube.UndoRefuse {
			objs = append(objs, st.Object)
		}
	}
	if len(objs) > 3 {
		return fmt.Sprintf("%s and %d more", strings.Join(objs[:3], ", "), len(objs)-3)
	}
	return strings.Join(objs, ", ")
}

package builtins

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["wait"] = doc.Builtin("k8s.wait", waitDoc, waitBuiltin)
}

const waitDoc = `k8s.wait(kind, name=None, *, namespace=None, selector=None, condition=None, until=None, delete=False, timeout="60s", context=None)

Waits until the object is in the state asked for and returns it (with a
selector, the list of every match, once all of them are):
  k8s.wait("pod", "web", condition="Ready")
  k8s.wait("deploy/web", condition="Available", timeout="5m")
  k8s.wait("deploy", "web", condition="ready")     # kstatus: reconciled and healthy
  k8s.wait("job", "backup", until=lambda j: any([c.type in ("Complete", "Failed") and c.status == "True" for c in j.status.get("conditions", [])]))
  k8s.wait("pod", "web", delete=True)              # until it is gone; returns None
  k8s.wait(pod, condition="Ready")                 # kind can be an object

condition is a condition type ("Ready", "Available", "Complete", any type
in status.conditions) that must be "True" (and, when the condition says so,
observed at the object's current generation). condition="ready" in lower
case means kstatus Current, for any kind, CRDs included: see k8s.status.
until is a predicate on the object. Without condition, until or delete, it
waits until the object exists. With a selector it waits until at least one
object matches and every match satisfies it (delete=True: until none is
left).

It is built on k8s.watch, not polling. timeout is a duration ("60s", "5m")
or seconds; on timeout it fails with the last state seen: each object's
conditions and kstatus message. context names another kubeconfig context
for this one call.`

// waitTarget is what k8s.wait waits for.
type waitTarget struct {
	condition string
	until     starlark.Callable
	delete    bool
}

func (t waitTarget) String() string {
	switch {
	case t.delete:
		return "be deleted"
	case t.condition == "ready":
		return "be ready (kstatus Current)"
	case t.condition != "":
		return fmt.Sprintf("be %s", t.condition)
	case t.until != nil:
		return "satisfy until"
	}
	return "exist"
}

// waitEntry is the last state seen of one object.
type waitEntry struct {
	obj  *Object
	ok   bool
	desc string // conditions and kstatus, for a timeout
}

func waitBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target  starlark.Value
		s       selection
		t       waitTarget
		timeout = watchDuration{d: 60 * time.Second, set: true}
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &target, "name?", starconv.OrNone(&s.name), "namespace?", starconv.OrNone(&s.namespace), "selector?", &s.selector,
		"condition?", &t.condition, "until?", &t.until, "delete?", &t.delete, "timeout?", &timeout, "context?", starconv.OrNone(&s.context)); err != nil {
		return nil, err
	}
	if err := s.ref(b, target); err != nil {
		return nil, err
	}
	if s.name == "" && s.selector.s == "" {
		return nil, fmt.Errorf("%s: wait for which %s? give a name or a selector", b.Name(), s.kind)
	}
	if s.name != "" && s.selector.s != "" {
		return nil, fmt.Errorf("%s: give a name or a selector, not both", b.Name())
	}
	n := 0
	for _, set := range []bool{t.condition != "", t.until != nil, t.delete} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, fmt.Errorf("%s: give one of condition, until and delete", b.Name())
	}
	c, err := watcherOf(thread, b, s.context)
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	w, err := c.Watch(ctx, s.kind, kube.WatchOptions{ListOptions: s.options(), Name: s.name, Initial: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	defer w.Stop()

	what := s.kind + "/" + s.name
	if s.name == "" {
		what = fmt.Sprintf("%s with selector %q", s.kind, s.selector.s)
	}
	state := map[string]*waitEntry{}
	initial := w.InitialCount()
	done := func() bool {
		if t.delete {
			return len(state) == 0
		}
		if len(state) == 0 {
			return false
		}
		for _, e := range state {
			if !e.ok {
				return false
			}
		}
		return true
	}
	result := func() starlark.Value {
		if t.delete {
			return starlark.None
		}
		keys := sortedEntryKeys(state)
		if s.name != "" {
			return state[keys[0]].obj
		}
		out := make([]starlark.Value, len(keys))
		for i, k := range keys {
			out[i] = state[k].obj
		}
		return starlark.NewList(out)
	}
	if initial == 0 && done() {
		return result(), nil
	}
	timer := time.NewTimer(timeout.d)
	defer timer.Stop()
	for seen := 0; ; {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				if err := w.Err(); err != nil {
					return nil, fmt.Errorf("%s: %w", b.Name(), err)
				}
				return nil, fmt.Errorf("%s: interrupted", b.Name())
			}
			seen++
			key := ev.Object.GetNamespace() + "/" + ev.Object.GetName()
			if ev.Type == kube.Deleted {
				delete(state, key)
			} else {
				e, err := t.check(thread, ev.Object.Object)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", b.Name(), err)
				}
				state[key] = e
			}
			if seen >= initial && done() {
				return result(), nil
			}
		case <-timer.C:
			return nil, fmt.Errorf("%s: timed out after %s waiting for %s to %s; %s",
				b.Name(), timeout, what, t, lastSeen(state, s.name != ""))
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: interrupted", b.Name())
		}
	}
}

// check evaluates the target on one object's state. The conditions and
// kstatus are read from the API's data before until may touch it.
func (t waitTarget) check(thread *starlark.Thread, m map[string]any) (*waitEntry, error) {
	e := &waitEntry{desc: describeState(m)}
	switch {
	case t.delete:
	case t.condition == "ready":
		st, err := kube.ComputeStatus(m)
		e.ok = err == nil && st.Status == kube.Current
	case t.condition != "":
		e.ok = conditionTrue(m, t.condition)
	default:
		e.ok = true
	}
	e.obj = NewObject(m)
	if t.until != nil {
		v, err := starlark.Call(thread, t.until, starlark.Tuple{e.obj}, nil)
		if err != nil {
			return nil, fmt.Errorf("until: %w", err)
		}
		e.ok = bool(v.Truth())
	}
	return e, nil
}

// conditionTrue tells whether status.conditions has cond (its type, or
// failing that in any case) with status "True", observed at the object's
// generation when the condition records one.
func conditionTrue(m map[string]any, cond string) bool {
	conds, _ := waitNested(m, "status", "conditions").([]any)
	var match map[string]any
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		typ, _ := cm["type"].(string)
		if typ == cond {
			match = cm
			break
		}
		if match == nil && strings.EqualFold(typ, cond) {
			match = cm
		}
	}
	if match == nil || match["status"] != "True" {
		return false
	}
	og, hasOG := match["observedGeneration"].(int64)
	gen, hasGen := waitNested(m, "metadata", "generation").(int64)
	return !hasOG || !hasGen || og >= gen
}

func waitNested(m map[string]any, path ...string) any {
	var v any = m
	for _, p := range path {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[p]
	}
	return v
}

// describeState is one object's state as a timeout reports it:
// "conditions Ready=False (ContainersNotReady: ...), PodScheduled=True;
// kstatus InProgress: ...".
func describeState(m map[string]any) string {
	var parts []string
	conds, _ := waitNested(m, "status", "conditions").([]any)
	var cs []string
	for _, c := range conds {
		cm, _ := c.(map[string]any)
		s := fmt.Sprintf("%v=%v", cm["type"], cm["status"])
		reason, _ := cm["reason"].(string)
		msg, _ := cm["message"].(string)
		switch {
		case reason != "" && msg != "":
			s += fmt.Sprintf(" (%s: %s)", reason, msg)
		case reason != "" || msg != "":
			s += fmt.Sprintf(" (%s%s)", reason, msg)
		}
		cs = append(cs, s)
	}
	if len(cs) > 0 {
		parts = append(parts, "conditions "+strings.Join(cs, ", "))
	} else {
		parts = append(parts, "no conditions")
	}
	if phase, ok := waitNested(m, "status", "phase").(string); ok {
		parts = append(parts, "phase "+phase)
	}
	if st, err := kube.ComputeStatus(m); err == nil {
		s := "kstatus " + st.Status
		if st.Message != "" {
			s += ": " + st.Message
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// lastSeen says what a wait saw last, for its timeout error.
func lastSeen(state map[string]*waitEntry, named bool) string {
	if len(state) == 0 {
		if named {
			return "it was never seen"
		}
		return "no object matched"
	}
	var b strings.Builder
	b.WriteString("last seen:")
	for _, k := range sortedEntryKeys(state) {
		e := state[k]
		name := strings.TrimPrefix(k, "/")
		if e.ok {
			fmt.Fprintf(&b, "\n  %s: done", name)
			continue
		}
		fmt.Fprintf(&b, "\n  %s: %s", name, e.desc)
	}
	return b.String()
}

func sortedEntryKeys(state map[string]*waitEntry) []string {
	keys := make([]string, 0, len(state))
	for k := range state {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

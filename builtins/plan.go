package builtins

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/fatih/color"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["plan"] = doc.Builtin("k8s.plan", planDoc, planBuiltin)
}

const planDoc = `k8s.plan(fn, *args, **kwargs)

Calls fn(*args, **kwargs) as a plan, a what-if run, and returns the plan
(a k8s.plan value) of what it would change, changing nothing: each change
it makes (k8s.apply, k8s.create, k8s.delete, k8s.patch, k8s.label,
k8s.scale, k8s.set_image, k8s.restart, k8s.drain, ...) is sent to the
server as a server-side dry run, and what the server answered is kept as
an overlay that the reads of fn see: a k8s.get after a planned k8s.apply
returns the dry-run object, a planned delete makes the object not found
(as the server would say), k8s.list includes planned creations and leaves
out planned deletions, and k8s.print shows the server's rows of planned
objects. So fn may branch on its own writes. Reads the plan cannot answer
fail, and are listed in the plan: a watch (k8s.wait, k8s.watch, a rollout
status) of a kind the plan changed, the logs of a planned pod; and so do
k8s.exec, k8s.attach and k8s.port_forward, whose effects are not known
before they run. A dry run the program asks for itself (dry_run=True,
k8s.diff) is not a change of the plan. The command line does the same with
k8sh --plan script.star (see docs/plan.md); plan is also a global name for
k8s.plan.

The REPL prints the plan: each object's changes in order, "+ create",
"~ update" or "- delete", each with the unified diff of the object (YAML
without managedFields, resourceVersion, uid, timestamps and status, as
k8s.diff shows it; a Secret's values hidden), then a summary line:
  Plan: 1 to create, 2 to change, 0 to delete in CONTEXT/NAMESPACE
str(p) is that text; p.changes the list of changes, each a struct with
op, kind, name, namespace, subresource, diff, before and after (None
for none); p.counts a dict of "create", "update" and "delete"; p.unanswered
the list of what the plan could not answer; bool(p) whether it changes
anything. p.apply() makes its changes for real, in order, each checked
first against the object as the plan saw it (its resourceVersion, or its
absence): an object changed since stops it before its change, with an
error naming it and who changed it; it returns the number of changes made.
p.save(path) writes the plan file that k8sh --apply-plan applies.

A plan ends with fn: when fn fails, k8s.plan fails with its error and
nothing was changed.`

func planBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("%s: missing argument fn", b.Name())
	}
	fn, ok := args[0].(starlark.Callable)
	if !ok {
		return nil, fmt.Errorf("%s: fn is a %s, want a callable", b.Name(), args[0].Type())
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	c, err := cluster(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Planner == nil {
		return nil, fmt.Errorf("%s: this session cannot plan", b.Name())
	}
	if s.DryRun {
		return nil, fmt.Errorf("%s: cannot plan under --dry-run", b.Name())
	}
	info, err := c.Context()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if err := s.Planner.Begin(info.Name, info.Namespace); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	outer := sys.Context(thread)
	sys.SetContext(thread, s.Planner.Bind(outer))
	_, err = starlark.Call(thread, fn, args[1:], kwargs)
	sys.SetContext(thread, outer)
	stopped := s.Planner.Stopped()
	p := s.Planner.End()
	if err != nil && stopped != nil && outer.Err() == nil {
		return nil, fmt.Errorf("%s: %v; the plan until then:\n%s", b.Name(), stopped, p)
	}
	if err != nil {
		return nil, err
	}
	return &PlanValue{plan: p}, nil
}

// Planning tells whether the run of thread is making a plan: its changes
// are dry runs (the lines the REPL shows say "planned").
func Planning(thread *starlark.Thread) bool {
	s, _ := thread.Local(sessionKey).(*Session)
	return s != nil && s.Planner.Planning()
}

// PlanValue is a plan as Starlark sees it (k8s.plan's value).
type PlanValue struct {
	plan *kube.Plan
}

var (
	_ starlark.HasAttrs = (*PlanValue)(nil)
)

// Plan is the plan p holds.
func (p *PlanValue) Plan() *kube.Plan { return p.plan }

func (p *PlanValue) String() string        { return strings.TrimSuffix(p.plan.String(), "\n") }
func (p *PlanValue) Type() string          { return "k8s.plan" }
func (p *PlanValue) Freeze()               {}
func (p *PlanValue) Truth() starlark.Bool  { return len(p.plan.Changes) > 0 }
func (p *PlanValue) Hash() (uint32, error) { return 0, errors.New("unhashable: k8s.plan") }

// Echo is the plan's text for the REPL, in colour on a terminal.
func (p *PlanValue) Echo() string {
	var b strings.Builder
	p.plan.Write(&b, !color.NoColor)
	return strings.TrimSuffix(b.String(), "\n")
}

func (p *PlanValue) AttrNames() []string {
	return []string{"apply", "changes", "counts", "save", "summary", "unanswered"}
}

func (p *PlanValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "changes":
		out := make([]starlark.Value, len(p.plan.Changes))
		for i := range p.plan.Changes {
			ch := &p.plan.Changes[i]
			obj := func(m map[string]any) starlark.Value {
				if m == nil {
					return starlark.None
				}
				return NewObject(m)
			}
			out[i] = starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
				"op": starlark.String(ch.Op), "kind": starlark.String(ch.Kind), "name": starlark.String(ch.Name),
				"namespace": starlark.String(ch.Namespace), "subresource": starlark.String(ch.Subresource),
				"diff": starlark.String(ch.Diff()), "before": obj(ch.Before), "after": obj(ch.After),
			})
		}
		return starlark.NewList(out), nil
	case "counts":
		c := p.plan.Counts()
		d := starlark.NewDict(3)
		d.SetKey(starlark.String("create"), starlark.MakeInt(c.Create))
		d.SetKey(starlark.String("update"), starlark.MakeInt(c.Update))
		d.SetKey(starlark.String("delete"), starlark.MakeInt(c.Delete))
		return d, nil
	case "summary":
		return starlark.String(p.plan.Summary()), nil
	case "unanswered":
		out := make([]starlark.Value, len(p.plan.Unanswered))
		for i, u := range p.plan.Unanswered {
			out[i] = starlark.String(u)
		}
		return starlark.NewList(out), nil
	case "apply":
		return starlark.NewBuiltin("k8s.plan.apply", p.apply), nil
	case "save":
		return starlark.NewBuiltin("k8s.plan.save", p.save), nil
	}
	return nil, nil
}

// PlanApplier is what applying a plan needs of a cluster: kube.Client.
type PlanApplier interface {
	ApplyPlan(ctx context.Context, p *kube.Plan, done func(*kube.PlanChange)) (int, error)
}

var _ PlanApplier = (*kube.Client)(nil)

func (p *PlanValue) apply(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, "", false, fmt.Sprintf("apply a plan of %d change(s)", len(p.plan.Changes)))
	if err != nil {
		return nil, err
	}
	if ch.dryRun {
		return nil, fmt.Errorf("%s: cannot apply a plan under --dry-run", b.Name())
	}
	if Planning(thread) {
		return nil, fmt.Errorf("%s: cannot apply a plan while planning", b.Name())
	}
	a, ok := ch.c.(PlanApplier)
	if !ok {
		return nil, fmt.Errorf("%s: this cluster cannot apply a plan", b.Name())
	}
	info, err := ch.c.Context()
	if err == nil && info.Name != p.plan.Context {
		return nil, fmt.Errorf("%s: the plan was made in context %q, not %q", b.Name(), p.plan.Context, info.Name)
	}
	n, err := a.ApplyPlan(sys.Context(thread), p.plan, func(c *kube.PlanChange) {
		Announce(thread, ch.c, []string{AppliedLine(c)}, nil)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.MakeInt(n), nil
}

// AppliedLine is the line said of a change of a plan once made:
// "configmap/settings created".
func AppliedLine(c *kube.PlanChange) string {
	verb := map[string]string{"create": "created", "update": "changed", "delete": "deleted"}[c.Op]
	s := c.ObjectName() + " " + verb
	if c.Subresource != "" {
		s += " (" + c.Subresource + ")"
	}
	return s
}

func (p *PlanValue) save(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.File.Sandbox {
		return nil, fmt.Errorf("%s: writing files is not allowed in --sandbox", b.Name())
	}
	if !filepath.IsAbs(path) && s.File.Dir != "" {
		path = filepath.Join(s.File.Dir, path)
	}
	if err := kube.SavePlan(p.plan, path); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return starlark.None, nil
}

package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/pmezard/go-difflib/difflib"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Undo: put back what a run changed, from its journal.
//
// Undo works per object: of the run's changes to one object (not undone
// yet), the first one's "before" is what the object is put back to, and
// the run's last change to it says what the run left, which the object
// must still be (the conflict check). Objects are taken in the reverse of
// the order the run first changed them: what a run created last (a
// ConfigMap in a Namespace it created) goes first, what it deleted first
// (the objects in a Namespace before the Namespace) comes back last.

// UndoAction is what undo does to one object.
type UndoAction string

const (
	UndoCreate  UndoAction = "create"  // the run deleted it: create it again
	UndoDelete  UndoAction = "delete"  // the run created it: delete it
	UndoRestore UndoAction = "restore" // the run changed it: put the previous state back
	UndoNone    UndoAction = "none"    // nothing to do: it is as it was before the run
	UndoRefuse  UndoAction = "refuse"  // undo will not touch it: Why says why
)

// UndoOptions say how to undo.
type UndoOptions struct {
	// Force undoes an object changed since the run, too.
	Force bool
	// DryRun sends every change as a server-side dry run.
	DryRun bool
	// Seqs are the changes of the run to undo; nil for every change not
	// undone yet.
	Seqs []int
}

// UndoStep is what undo does to one object.
type UndoStep struct {
	Context   string
	Object    string // "deployment.apps/web"
	Namespace string
	Action    UndoAction
	// Why says what the run did to the object, or why nothing is done.
	Why string
	// Conflict is set when the object changed since the run (who changed
	// it): it is refused, unless Force.
	Conflict string
	// Diff is the unified diff from the live object to what undo leaves
	// (status left out).
	Diff string
	// Seqs are the run's changes this step takes back.
	Seqs []int
	// Err is what failed, once done.
	Err error
	// Note says what was done differently from the run's object, once
	// done: a Service created again with new addresses.
	Note string

	first, last *JournalChange
	target      apiTarget
	live        *unstructured.Unstructured
	status      bool // the run changed the status subresource
}

// UndoPlan is what undo of a run does, object by object.
type UndoPlan struct {
	Run   *Run
	Steps []*UndoStep
	opts  UndoOptions
}

// String is the step as undo's plan shows it, one line.
func (s *UndoStep) String() string {
	where := s.Object
	if s.Namespace != "" {
		where += " -n " + s.Namespace
	}
	sign := map[UndoAction]string{UndoCreate: "+", UndoDelete: "-", UndoRestore: "~", UndoNone: " ", UndoRefuse: "!"}[s.Action]
	line := fmt.Sprintf("%s %-7s %s (context %s): %s", sign, s.Action, where, s.Context, s.Why)
	if s.Conflict != "" && s.Action != UndoRefuse {
		line += "; changed since by " + s.Conflict + " (--force)"
	}
	return line
}

// Done is the line that says what the step did, in kubectl's words
// ("deployment.apps/web created"), or why it did nothing.
func (s *UndoStep) Done(dryRun bool) string {
	dry := ""
	if dryRun {
		dry = " (server dry run)"
	}
	switch {
	case s.Err != nil:
		return fmt.Sprintf("%s: not undone: %v", s.Object, s.Err)
	case s.Action == UndoCreate && s.Note != "":
		return s.Object + " created" + dry + " (" + s.Note + ")"
	case s.Action == UndoCreate:
		return s.Object + " created" + dry
	case s.Action == UndoDelete:
		return s.Object + " deleted" + dry
	case s.Action == UndoRestore:
		return s.Object + " restored" + dry
	case s.Action == UndoRefuse:
		return fmt.Sprintf("%s: not undone: %s", s.Object, s.Why)
	}
	return fmt.Sprintf("%s unchanged: %s", s.Object, s.Why)
}

// Summary counts the plan's steps: "1 to create, 2 to restore, 1 to
// delete, 1 refused".
func (p *UndoPlan) Summary() string {
	n := map[UndoAction]int{}
	for _, s := range p.Steps {
		n[s.Action]++
	}
	parts := []string{
		fmt.Sprintf("%d to create", n[UndoCreate]),
		fmt.Sprintf("%d to restore", n[UndoRestore]),
		fmt.Sprintf("%d to delete", n[UndoDelete]),
	}
	if n[UndoRefuse] > 0 {
		parts = append(parts, fmt.Sprintf("%d refused", n[UndoRefuse]))
	}
	if n[UndoNone] > 0 {
		parts = append(parts, fmt.Sprintf("%d unchanged", n[UndoNone]))
	}
	return strings.Join(parts, ", ")
}

// Contexts are the contexts the plan changes something in.
func (p *UndoPlan) Contexts() []string {
	var out []string
	for _, s := range p.Steps {
		if s.changes() && !slices.Contains(out, s.Context) {
			out = append(out, s.Context)
		}
	}
	return out
}

func (s *UndoStep) changes() bool {
	return s.Action == UndoCreate || s.Action == UndoDelete || s.Action == UndoRestore
}

// objectKey identifies an object across a run's changes.
func (c *JournalChange) objectKey() string {
	name := c.Name
	if name == "" {
		name = fmt.Sprintf("#%d", c.Seq) // a create whose name was never learnt
	}
	return strings.Join([]string{c.Context, c.Group, c.Resource, c.Namespace, name}, "\x00")
}

func (c *JournalChange) target() apiTarget {
	return apiTarget{group: c.Group, version: c.Version, resource: c.Resource, namespace: c.Namespace, name: c.Name}
}

// Object names the object of c as kubectl's messages do:
// "deployment.apps/web".
func (c *JournalChange) Object() string {
	kind := ""
	for _, o := range []map[string]any{c.Before, resultAfter(c)} {
		if k, _ := o["kind"].(string); k != "" && kind == "" {
			kind = k
		}
	}
	if kind == "" {
		kind = c.Resource
	}
	kind = strings.ToLower(kind)
	if c.Group != "" {
		kind += "." + c.Group
	}
	return kind + "/" + c.Name
}

// objectSub is Object with the subresource changed, if any:
// "deployment.apps/web (scale)".
func (c *JournalChange) objectSub() string {
	if c.Subresource != "" && c.Subresource != "eviction" {
		return c.Object() + " (" + c.Subresource + ")"
	}
	return c.Object()
}

func resultAfter(c *JournalChange) map[string]any {
	if c.Result == nil {
		return nil
	}
	return c.Result.After
}

// ClientFor returns the client of a kubeconfig context.
type ClientFor func(context string) (*Client, error)

// PlanUndo reads the live state of each object run changed and says what
// undoing the changes would do. undone are the changes of run undone
// already (UndoneSeqs): they are left alone.
func PlanUndo(ctx context.Context, run *Run, undone map[int]string, clientFor ClientFor, opts UndoOptions) (*UndoPlan, error) {
	plan := &UndoPlan{Run: run, opts: opts}
	want := map[int]bool{}
	for _, s := range opts.Seqs {
		want[s] = true
	}
	// The run's last change of each object, whatever undid it since:
	// what the object must still be.
	last := map[string]*JournalChange{}
	for _, c := range run.Changes {
		if !c.Result.Failed() {
			last[c.objectKey()] = c
		}
	}
	groups := map[string]*UndoStep{}
	var order []*UndoStep
	for _, c := range run.Made() {
		if _, done := undone[c.Seq]; done || opts.Seqs != nil && !want[c.Seq] {
			continue
		}
		if c.Undo == run.ID {
			continue // k8s.undo in the run itself: what it undid is marked undone
		}
		k := c.objectKey()
		s := groups[k]
		if s == nil {
			s = &UndoStep{first: c, last: last[k], Context: c.Context, Namespace: c.Namespace, target: c.target()}
			groups[k] = s
			order = append(order, s)
		}
		s.Seqs = append(s.Seqs, c.Seq)
		if c.Subresource == "status" {
			s.status = true
		}
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i].first.Seq > order[j].first.Seq })
	clients := map[string]*Client{}
	for _, s := range order {
		s.Object = s.last.Object()
		c, ok := clients[s.Context]
		if !ok {
			var err error
			if c, err = clientFor(s.Context); err != nil {
				return nil, err
			}
			clients[s.Context] = c
		}
		if err := s.plan(ctx, c, run, opts); err != nil {
			return nil, err
		}
		plan.Steps = append(plan.Steps, s)
	}
	return plan, nil
}

func (s *UndoStep) refuse(why string) {
	s.Action, s.Why = UndoRefuse, why
}

func (s *UndoStep) plan(ctx context.Context, c *Client, run *Run, opts UndoOptions) error {
	first, last := s.first, s.last
	if err := c.init(); err != nil {
		return err
	}
	if first.Server != "" && c.config.Host != first.Server {
		s.refuse(fmt.Sprintf("context %q is now server %s; the run changed it on %s", s.Context, c.config.Host, first.Server))
		return nil
	}
	for _, seq := range s.Seqs {
		for _, ch := range run.Changes {
			if ch.Seq == seq {
				if why, ok := Irreversible[ch.Subresource]; ok {
					s.refuse(why)
					return nil
				}
			}
		}
	}
	if first.BeforeError != "" {
		s.refuse("the journal does not hold what it was: " + first.BeforeError)
		return nil
	}
	live, err := c.getPath(ctx, s.target)
	if err != nil {
		return err
	}
	s.live = live
	if first.SecretDataOmitted && first.Existed {
		s.refuse("cannot restore a Secret's data: the journal does not keep it (journal: {secret_data: true} in the k8sh config keeps it)")
		return nil
	}

	// What the run left, and whether the object is still that.
	switch r := last.Result; {
	case !r.Known():
		s.Conflict = "an unknown outcome: the run ended before it learnt whether its change was made"
	case r.Gone || last.Method == "DELETE" || last.Subresource == "eviction":
		if live != nil && deletionPending(live.Object) {
			s.refuse("it is still being deleted (finalizers " + strings.Join(live.GetFinalizers(), ", ") + "); undo again once it is gone")
			return nil
		}
		if live != nil {
			s.Conflict = "someone who created it again: " + lastManager(live.Object, nil)
		}
	default:
		after := &unstructured.Unstructured{Object: r.After}
		switch {
		case live == nil:
			s.Conflict = "someone who deleted it"
		case after.GetUID() != "" && live.GetUID() != after.GetUID():
			s.Conflict = "someone who replaced it (a new uid): " + lastManager(live.Object, nil)
		case r.After != nil && !sameContent(live.Object, r.After):
			s.Conflict = lastManager(live.Object, nil)
		}
	}

	// What to do.
	switch {
	case !first.Existed && live == nil:
		s.Action, s.Why = UndoNone, "created by the run, gone already"
	case !first.Existed:
		s.Action, s.Why = UndoDelete, "created by the run"
	case live == nil && controllerOf(first.Before) != "":
		s.Action, s.Why = UndoNone, "deleted by the run; not created again: its controller "+controllerOf(first.Before)+" makes its own"
		s.Conflict = ""
	case live == nil:
		s.Action, s.Why = UndoCreate, "deleted by the run"
		if first.Resource == "namespaces" && first.Group == "" {
			s.Why += "; it comes back empty: what was in it is not in the journal"
		}
	case sameContent(live.Object, first.Before):
		s.Action, s.Why = UndoNone, "as it was before the run already"
		s.Conflict = ""
	case first.Method == "DELETE" || first.Subresource == "eviction":
		s.Action, s.Why = UndoRestore, "deleted by the run, and made again since"
	default:
		s.Action, s.Why = UndoRestore, "changed by the run"
	}
	if s.Conflict != "" && !opts.Force && s.changes() {
		s.refuse("changed since by " + s.Conflict + "; --force (force=True) undoes it anyway")
	}
	if s.changes() {
		s.Diff = undoDiff(s.Object, live, s.result())
	}
	return nil
}

// result is what the object is once the step is done (nil: gone).
func (s *UndoStep) result() *unstructured.Unstructured {
	if s.Action == UndoDelete {
		return nil
	}
	return &unstructured.Unstructured{Object: s.first.Before}
}

// lastManager names who changed obj last, from its managedFields: the
// latest entry's manager, operation and time ("kubectl-patch" (Update at
// T)). With seen (obj as it was read before, or nil), only the entries
// written since then count; "" when there is none. Entries of the status
// subresource (controllers reporting) are passed over when there are
// others: neither undo's conflict check nor a plan's staleness counts
// status.
func lastManager(obj, seen map[string]any) string {
	var old map[string]bool
	if seen != nil {
		old = map[string]bool{}
		for _, m := range (&unstructured.Unstructured{Object: seen}).GetManagedFields() {
			old[managedEntry(m)] = true
		}
	}
	var latest *metav1.ManagedFieldsEntry
	mfs := (&unstructured.Unstructured{Object: obj}).GetManagedFields()
	for pass := 0; pass < 2 && latest == nil; pass++ {
		for i := range mfs {
			m := &mfs[i]
			if pass == 0 && m.Subresource == "status" || old[managedEntry(*m)] {
				continue
			}
			if latest == nil || m.Time != nil && (latest.Time == nil || !m.Time.Before(latest.Time)) {
				latest = m
			}
		}
	}
	if latest == nil {
		if seen != nil {
			return ""
		}
		return "an unknown manager (the object has no managedFields)"
	}
	when := ""
	if latest.Time != nil {
		when = " at " + latest.Time.UTC().Format(time.RFC3339)
	}
	sub := ""
	if latest.Subresource != "" {
		sub = " of " + latest.Subresource
	}
	return fmt.Sprintf("%q (%s%s%s)", latest.Manager, latest.Operation, sub, when)
}

// managedEntry is a managedFields entry as a string, to compare two.
func managedEntry(m metav1.ManagedFieldsEntry) string {
	t := ""
	if m.Time != nil {
		t = m.Time.UTC().Format(time.RFC3339)
	}
	f := ""
	if m.FieldsV1 != nil {
		f = string(m.FieldsV1.Raw)
	}
	return m.Manager + "|" + string(m.Operation) + "|" + m.Subresource + "|" + t + "|" + f
}

// controllerOf names the controller owner of obj ("ReplicaSet/web-5fc9"),
// or "".
func controllerOf(obj map[string]any) string {
	u := &unstructured.Unstructured{Object: obj}
	for _, r := range u.GetOwnerReferences() {
		if r.Controller != nil && *r.Controller {
			return r.Kind + "/" + r.Name
		}
	}
	return ""
}

// reservedAnnotation tells whether an annotation key belongs to a
// Kubernetes component (deployment.kubernetes.io/revision,
// pv.kubernetes.io/bind-completed): controllers write them after a
// change. kubectl's (kubectl.kubernetes.io/...) are the user's.
func reservedAnnotation(key string) bool {
	domain, _, ok := strings.Cut(key, "/")
	if !ok || domain == "kubectl.kubernetes.io" {
		return false
	}
	for _, d := range []string{"kubernetes.io", "k8s.io"} {
		if domain == d || strings.HasSuffix(domain, "."+d) {
			return true
		}
	}
	return false
}

// controllerFields are the fields of a kind that a controller sets after
// the user's change: a Pod's node (the scheduler), a claim's volume (the
// binder).
var controllerFields = map[string][]string{
	"Pod":                   {"spec", "nodeName"},
	"PersistentVolumeClaim": {"spec", "volumeName"},
	"PersistentVolume":      {"spec", "claimRef"},
}

// comparable is obj without what the server and controllers change on
// their own: status, the resourceVersion, generation, uid, timestamps,
// managedFields, reserved annotations, the fields of controllerFields.
func comparable(obj map[string]any) map[string]any {
	o := (&unstructured.Unstructured{Object: obj}).DeepCopy().Object
	delete(o, "status")
	md, _ := o["metadata"].(map[string]any)
	for _, f := range []string{"resourceVersion", "generation", "uid", "creationTimestamp", "managedFields", "selfLink"} {
		delete(md, f)
	}
	if ann, ok := md["annotations"].(map[string]any); ok {
		for k := range ann {
			if reservedAnnotation(k) {
				delete(ann, k)
			}
		}
		if len(ann) == 0 {
			delete(md, "annotations")
		}
	}
	kind, _ := o["kind"].(string)
	if f := controllerFields[kind]; f != nil {
		unstructured.RemoveNestedField(o, f...)
	}
	if kind == "Node" {
		// The node controller's taints (node.kubernetes.io/unschedulable
		// follows a cordon, .../not-ready a heartbeat).
		if taints, ok, _ := unstructured.NestedSlice(o, "spec", "taints"); ok {
			var kept []any
			for _, t := range taints {
				if m, ok := t.(map[string]any); ok {
					if k, _ := m["key"].(string); reservedAnnotation(k) {
						continue
					}
				}
				kept = append(kept, t)
			}
			if len(kept) == 0 {
				unstructured.RemoveNestedField(o, "spec", "taints")
			} else {
				unstructured.SetNestedSlice(o, kept, "spec", "taints")
			}
		}
	}
	return o
}

// sameContent tells whether a and b are the same object but for what the
// server and controllers change on their own (comparable): the question of
// undo's conflict check and of a plan's staleness check alike.
func sameContent(a, b map[string]any) bool {
	return reflect.DeepEqual(comparable(a), comparable(b))
}

// undoDiff is the unified diff from live to what undo leaves, as YAML
// without status and what changes at every write.
func undoDiff(name string, live, result *unstructured.Unstructured) string {
	text := func(u *unstructured.Unstructured) string {
		if u == nil {
			return ""
		}
		o := u.DeepCopy()
		delete(o.Object, "status")
		s, _ := diffable(o)
		return s
	}
	a, b := text(live), text(result)
	if a == b {
		return ""
	}
	from, to := "live/"+name, "undone/"+name
	if live == nil {
		from = "/dev/null"
	}
	if result == nil {
		to = "/dev/null"
	}
	d, _ := difflib.GetUnifiedDiffString(difflib.UnifiedDiff{A: lines(a), B: lines(b), FromFile: from, ToFile: to, Context: 3})
	return d
}

// getPath reads the object t names, as JSON; nil when it does not exist.
func (c *Client) getPath(ctx context.Context, t apiTarget) (*unstructured.Unstructured, error) {
	rc, err := c.rawClient()
	if err != nil {
		return nil, err
	}
	raw, err := doRaw(ctx, rc.Get().AbsPath(t.objectPath()))
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apiError(err, t.namespace)
	}
	u := &unstructured.Unstructured{}
	if err := json.Unmarshal(raw, &u.Object); err != nil {
		return nil, err
	}
	return u, nil
}

// Do carries the plan out, in order, each request marked as the undo of
// the run (WithUndo), and records in j the changes of the run it undid
// (or found undone already). Each step's Err says what failed.
func (p *UndoPlan) Do(ctx context.Context, clientFor ClientFor, j *Journal) error {
	ctx = WithUndo(ctx, p.Run.ID)
	uids := map[types.UID]types.UID{} // of objects created again: old -> new
	var done []int
	for _, s := range p.Steps {
		if s.Action == UndoRefuse {
			continue
		}
		if s.Action == UndoNone {
			done = append(done, s.Seqs...)
			continue
		}
		c, err := clientFor(s.Context)
		if err == nil {
			err = s.do(ctx, c, p.opts, uids)
		}
		if err != nil {
			s.Err = err
			continue
		}
		done = append(done, s.Seqs...)
	}
	if j != nil && !p.opts.DryRun {
		sort.Ints(done)
		return j.MarkUndone(p.Run.ID, done)
	}
	return nil
}

func (s *UndoStep) do(ctx context.Context, c *Client, opts UndoOptions, uids map[types.UID]types.UID) error {
	rc, err := c.rawClient()
	if err != nil {
		return err
	}
	t := s.target
	ns := t.namespace
	var dry []string
	if opts.DryRun {
		dry = []string{metav1.DryRunAll}
	}
	switch s.Action {
	case UndoDelete:
		prop := metav1.DeletePropagationBackground
		do := metav1.DeleteOptions{PropagationPolicy: &prop, DryRun: dry}
		if !opts.Force || s.Conflict == "" {
			uid, rv := s.live.GetUID(), s.live.GetResourceVersion()
			do.Preconditions = &metav1.Preconditions{UID: &uid, ResourceVersion: &rv}
		}
		_, err := c.deleteObject(ctx, Resource{GVR: gvr(t)}, ns, t.name, do)
		if err != nil {
			return writeError(err, ns)
		}
		return nil
	case UndoCreate:
		obj := recreated(s.first.Before, uids)
		body, err := json.Marshal(obj)
		if err != nil {
			return err
		}
		req := rc.Post().AbsPath(t.collectionPath()).Body(body)
		if opts.DryRun {
			req = req.Param("dryRun", metav1.DryRunAll)
		}
		raw, err := doRaw(ctx, req)
		if err != nil && apierrors.IsInvalid(err) && strings.Contains(err.Error(), "already allocated") {
			// A Service's cluster IP or node port, taken since the run:
			// the server gives it new ones.
			if fresh, dropped := withoutAllocated(obj); len(dropped) > 0 {
				if body, err = json.Marshal(fresh); err != nil {
					return err
				}
				req = rc.Post().AbsPath(t.collectionPath()).Body(body)
				if opts.DryRun {
					req = req.Param("dryRun", metav1.DryRunAll)
				}
				if raw, err = doRaw(ctx, req); err == nil {
					s.Note = "with new " + strings.Join(dropped, " and ") + ": the old ones were taken since"
				}
			}
		}
		if err != nil {
			return writeError(err, ns)
		}
		var made unstructured.Unstructured
		if json.Unmarshal(raw, &made.Object) == nil {
			if old := (&unstructured.Unstructured{Object: s.first.Before}).GetUID(); old != "" {
				uids[old] = made.GetUID()
			}
		}
		return nil
	case UndoRestore:
		obj := (&unstructured.Unstructured{Object: s.first.Before}).DeepCopy()
		obj.SetResourceVersion(s.live.GetResourceVersion())
		obj.SetUID("")
		remapOwners(obj, uids)
		put := func(path string, obj *unstructured.Unstructured) (*unstructured.Unstructured, error) {
			body, err := json.Marshal(obj.Object)
			if err != nil {
				return nil, err
			}
			req := rc.Put().AbsPath(path).Body(body)
			if opts.DryRun {
				req = req.Param("dryRun", metav1.DryRunAll)
			}
			raw, err := doRaw(ctx, req)
			if err != nil {
				return nil, writeError(err, ns)
			}
			var out unstructured.Unstructured
			err = json.Unmarshal(raw, &out.Object)
			return &out, err
		}
		out, err := put(t.objectPath(), obj)
		if err != nil {
			return err
		}
		if s.status && out != nil {
			obj.SetResourceVersion(out.GetResourceVersion())
			if _, err := put(t.objectPath()+"/status", obj); err != nil {
				return fmt.Errorf("status: %w", err)
			}
		}
		return nil
	}
	return nil
}

// recreated is before, an object deleted by the run, as a create sends it
// again: without what the server sets (uid, resourceVersion,
// creationTimestamp, deletion fields, generation, managedFields), with its
// owners' uids those of the owners created again by this undo. Status is
// sent as it was: the server drops it for kinds whose status is a
// subresource, and keeps it for the others, whose status is data.
func recreated(before map[string]any, uids map[types.UID]types.UID) map[string]any {
	u := (&unstructured.Unstructured{Object: before}).DeepCopy()
	md, _ := u.Object["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "managedFields", "selfLink"} {
		delete(md, f)
	}
	remapOwners(u, uids)
	return u.Object
}

// withoutAllocated is a Service without what the server allocates (its
// cluster IPs, node ports, health check node port), and what was taken out.
func withoutAllocated(obj map[string]any) (map[string]any, []string) {
	u := &unstructured.Unstructured{Object: obj}
	if u.GetAPIVersion() != "v1" || u.GetKind() != "Service" {
		return obj, nil
	}
	u = u.DeepCopy()
	var dropped []string
	if ip, _, _ := unstructured.NestedString(u.Object, "spec", "clusterIP"); ip != "" && ip != "None" {
		unstructured.RemoveNestedField(u.Object, "spec", "clusterIP")
		unstructured.RemoveNestedField(u.Object, "spec", "clusterIPs")
		dropped = append(dropped, "cluster IPs")
	}
	ports, _, _ := unstructured.NestedSlice(u.Object, "spec", "ports")
	nodePorts := false
	for _, p := range ports {
		if pm, ok := p.(map[string]any); ok {
			if _, ok := pm["nodePort"]; ok {
				delete(pm, "nodePort")
				nodePorts = true
			}
		}
	}
	if nodePorts {
		unstructured.SetNestedSlice(u.Object, ports, "spec", "ports")
		dropped = append(dropped, "node ports")
	}
	if _, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "healthCheckNodePort"); ok {
		unstructured.RemoveNestedField(u.Object, "spec", "healthCheckNodePort")
		if !nodePorts {
			dropped = append(dropped, "node ports")
		}
	}
	return u.Object, dropped
}

func remapOwners(u *unstructured.Unstructured, uids map[types.UID]types.UID) {
	refs := u.GetOwnerReferences()
	changed := false
	for i := range refs {
		if n, ok := uids[refs[i].UID]; ok {
			refs[i].UID, changed = n, true
		}
	}
	if changed {
		u.SetOwnerReferences(refs)
	}
}

// DescribeChange is one line for a change of a journal: what was done to
// which object, and how it ended.
func DescribeChange(c *JournalChange, undone string) string {
	what := "update"
	switch {
	case c.Subresource == "eviction":
		what = "evict"
	case c.Method == "DELETE":
		what = "delete"
	case !c.Existed:
		what = "create" // a POST, or an apply of what did not exist
	}
	where := c.objectSub()
	if c.Namespace != "" {
		where += " -n " + c.Namespace
	}
	out := "ok"
	switch r := c.Result; {
	case r == nil:
		out = "outcome unknown"
	case r.Failed():
		out = "refused: " + r.Error
	case !r.Known():
		out = "outcome unknown: " + r.Error
	case unchanged(c, r):
		out = "unchanged"
	}
	line := fmt.Sprintf("%3d  %-8s %s (context %s): %s", c.Seq, what, where, c.Context, out)
	if c.Undo != "" {
		line += " [undo of " + c.Undo + "]"
	}
	if undone != "" {
		line += " [undone by " + undone + "]"
	}
	return line
}

// gvr is the resource t names.
func gvr(t apiTarget) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: t.group, Version: t.version, Resource: t.resource}
}

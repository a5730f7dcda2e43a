package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/dynamic"
)

// DefaultFieldManager is the field manager of k8sh's server-side applies.
const DefaultFieldManager = "k8sh"

// DefaultParallel is how many requests a bulk operation has in flight.
const DefaultParallel = 8

// ObjectName names an object as kubectl's messages do: "deployment/web".
func ObjectName(u *unstructured.Unstructured) string {
	kind, name := strings.ToLower(u.GetKind()), u.GetName()
	if kind == "" {
		kind = "object"
	}
	if name == "" {
		if g := u.GetGenerateName(); g != "" {
			name = g + "*"
		} else {
			name = "<no name>"
		}
	}
	return kind + "/" + name
}

// BulkName names an object in the error of a call on many objects, where
// objects of several namespaces may meet: "namespace/kind/name"
// ("default/deployment/web") from the namespace and ObjectName's
// "kind/name"; "kind/name" for a cluster-scoped one (or one not placed).
func BulkName(namespace, object string) string {
	if namespace == "" {
		return object
	}
	return namespace + "/" + object
}

// ObjectError is the failure of one object in a call.
type ObjectError struct {
	// Namespace ("" for none) and Object ("deployment/web") name it.
	Namespace, Object string
	Err               error
}

// Name is the object's BulkName: "default/deployment/web".
func (e *ObjectError) Name() string { return BulkName(e.Namespace, e.Object) }

func (e *ObjectError) Error() string { return e.Name() + ": " + e.Err.Error() }
func (e *ObjectError) Unwrap() error { return e.Err }

// BulkError is the failures of a call on many objects, in input order. What
// is not listed succeeded.
type BulkError struct {
	Total  int
	Errors []*ObjectError
}

func (e *BulkError) Error() string {
	if len(e.Errors) == 1 && e.Total == 1 {
		// A call on one object: "kind/name", as the caller knows where.
		return e.Errors[0].Object + ": " + e.Errors[0].Err.Error()
	}
	// A server that cannot be reached fails every object alike: each such
	// message is said once, with the number of objects it failed.
	type part struct {
		first   string // "kind/name: message"
		conn    string // the message, when it is connection-level
		objects int    // how many objects a connection-level message failed
	}
	var parts []*part
	conn := map[string]*part{}
	for _, oe := range e.Errors {
		if !connectionError(oe.Err) {
			parts = append(parts, &part{first: oe.Error()})
			continue
		}
		msg := oe.Err.Error()
		if p, ok := conn[msg]; ok {
			p.objects++
			continue
		}
		conn[msg] = &part{first: oe.Error(), conn: msg, objects: 1}
		parts = append(parts, conn[msg])
	}
	if len(parts) == 1 && parts[0].objects == e.Total {
		return fmt.Sprintf("%d objects: %s", e.Total, parts[0].conn)
	}
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.first
		if p.objects > 1 {
			texts[i] = fmt.Sprintf("%d objects: %s", p.objects, p.conn)
		}
	}
	return fmt.Sprintf("%d of %d objects failed: %s", len(e.Errors), e.Total, strings.Join(texts, "; "))
}

// Unwrap gives the errors of each object, for errors.Is and errors.As.
func (e *BulkError) Unwrap() []error {
	out := make([]error, len(e.Errors))
	for i, oe := range e.Errors {
		out[i] = oe
	}
	return out
}

// notSentError is an object of a bulk call that was never sent: the call
// was interrupted (Ctrl-C, --timeout) before its turn.
type notSentError struct{ err error }

func (e *notSentError) Error() string { return "not sent: " + e.err.Error() }
func (e *notSentError) Unwrap() error { return e.err }

// Interrupted says what a bulk call that Ctrl-C or a timeout stopped did,
// for a script's last words: "212 of 500 objects done, 8 of unknown outcome
// (configmap/a, configmap/b), 280 not sent". ok is false when err holds no
// BulkError of an interrupted call.
func Interrupted(err error) (summary string, ok bool) {
	var be *BulkError
	if !errors.As(err, &be) {
		return "", false
	}
	var unknown []string
	notSent, failed := 0, 0
	for _, oe := range be.Errors {
		var ns *notSentError
		var ou *OutcomeUnknownError
		switch {
		case errors.As(oe.Err, &ns):
			notSent++
		case errors.As(oe.Err, &ou), errors.Is(oe.Err, context.Canceled), errors.Is(oe.Err, context.DeadlineExceeded):
			unknown = append(unknown, oe.Name())
		default:
			failed++
		}
	}
	if notSent == 0 && len(unknown) == 0 {
		return "", false
	}
	done := be.Total - len(be.Errors)
	parts := []string{fmt.Sprintf("%d of %d objects done", done, be.Total)}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", failed))
	}
	if len(unknown) > 0 {
		names := unknown
		if len(names) > 10 {
			names = append(names[:10:10], "...")
		}
		parts = append(parts, fmt.Sprintf("%d of unknown outcome (%s)", len(unknown), strings.Join(names, ", ")))
	}
	if notSent > 0 {
		parts = append(parts, fmt.Sprintf("%d not sent", notSent))
	}
	return strings.Join(parts, ", "), true
}

// bulkError returns nil when errs holds no error, else a *BulkError whose
// objects are names[i] ("kind/name") in nss[i].
func bulkError(names, nss []string, errs []error) error {
	be := &BulkError{Total: len(errs)}
	for i, err := range errs {
		if err != nil {
			be.Errors = append(be.Errors, &ObjectError{Namespace: nss[i], Object: names[i], Err: err})
		}
	}
	if len(be.Errors) == 0 {
		return nil
	}
	return be
}

// forEach runs fn(i) for i in [0, n) with at most parallel calls at once.
func forEach(ctx context.Context, n, parallel int, fn func(i int) error) []error {
	if parallel <= 0 {
		parallel = DefaultParallel
	}
	errs := make([]error, n)
	sem := make(chan struct{}, parallel)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		if err := ctx.Err(); err != nil {
			errs[i] = &notSentError{err}
			continue
		}
		sem <- struct{}{}
		if err := ctx.Err(); err != nil { // interrupted while waiting for its turn
			<-sem
			errs[i] = &notSentError{err}
			continue
		}
		wg.Add(1)
		go func(i int) {
			defer func() { <-sem; wg.Done() }()
			errs[i] = fn(i)
		}(i)
	}
	wg.Wait()
	return errs
}

// ResolveGVK finds the resource of an object's apiVersion and kind. A kind
// the cached discovery data does not know triggers one fresh discovery, so
// that a CRD created a moment ago resolves.
func (c *Client) ResolveGVK(apiVersion, kind string) (Resource, error) {
	if err := c.init(); err != nil {
		return Resource{}, err
	}
	if kind == "" {
		return Resource{}, fmt.Errorf("the object has no kind")
	}
	if apiVersion == "" {
		return Resource{}, fmt.Errorf("the object has no apiVersion")
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return Resource{}, fmt.Errorf("invalid apiVersion %q: %w", apiVersion, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: kind}
	m, err := c.mapper.RESTMapping(gk, gv.Version)
	if err != nil && meta.IsNoMatchError(err) {
		c.rediscover()
		m, err = c.mapper.RESTMapping(gk, gv.Version)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return Resource{}, fmt.Errorf("the server doesn't have a resource type %q in %s (no kind %q is registered for version %q)", kind, apiVersion, kind, apiVersion)
		}
		return Resource{}, apiError(err, "")
	}
	return resourceOf(m), nil
}

// target resolves obj and places it: a namespaced object without a namespace
// goes to ns or, when ns is "", to the context's default; one that names
// another namespace than a given ns is an error; a cluster-scoped object
// has none. It sets the namespace in obj and returns it.
func (c *Client) target(obj *unstructured.Unstructured, ns string) (Resource, string, error) {
	r, err := c.ResolveGVK(obj.GetAPIVersion(), obj.GetKind())
	if err != nil {
		return Resource{}, "", err
	}
	if !r.Namespaced {
		obj.SetNamespace("")
		return r, "", nil
	}
	if obj.GetNamespace() == "" {
		obj.SetNamespace(c.namespaceFor(r, ns))
	} else if ns != "" && ns != obj.GetNamespace() {
		// As kubectl: an explicit namespace that the object contradicts
		// is a mistake to point out, not one to pick a side of.
		return Resource{}, "", fmt.Errorf("the object's namespace %q does not match namespace=%q", obj.GetNamespace(), ns)
	}
	return r, obj.GetNamespace(), nil
}

func dryRunOpt(dry bool) []string {
	if dry {
		return []string{metav1.DryRunAll}
	}
	return nil
}

// ApplyOptions tune a server-side apply.
type ApplyOptions struct {
	// Namespace for objects that name none; "" means the context's default.
	Namespace string
	// FieldManager owns the applied fields; "" means DefaultFieldManager.
	FieldManager string
	// Force takes ownership of fields other managers own.
	Force bool
	// DryRun sends the apply as a server-side dry run.
	DryRun bool
	// Parallel bounds the requests in flight; 0 means DefaultParallel.
	Parallel int
	// EstablishTimeout bounds the wait for applied CRDs to be established;
	// 0 means one minute.
	EstablishTimeout time.Duration
	// Originals, when not nil, holds for each object (same index) the
	// object as it was read, or nil: an object with one is written back as
	// Edit does (a patch of what changed since it was read), not applied.
	Originals []*unstructured.Unstructured
}

// original is the object as read of objs[i], or nil.
func (o ApplyOptions) original(i int) *unstructured.Unstructured {
	if i < len(o.Originals) {
		return o.Originals[i]
	}
	return nil
}

func (o ApplyOptions) manager() string {
	if o.FieldManager == "" {
		return DefaultFieldManager
	}
	return o.FieldManager
}

func isCRD(u *unstructured.Unstructured) bool {
	return u.GetKind() == "CustomResourceDefinition" && strings.HasPrefix(u.GetAPIVersion(), "apiextensions.k8s.io/")
}

// Apply applies objs server-side, as kubectl apply --server-side does, and
// returns what the server made of each, in input order (nil where it failed).
// CustomResourceDefinitions are applied first and waited for until
// established, so that their resources in the same call apply. One failure
// does not stop the others: the error is a *BulkError listing each object
// that failed, and the others stay applied.
func (c *Client) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]*unstructured.Unstructured, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	out := make([]*unstructured.Unstructured, len(objs))
	errs := make([]error, len(objs))
	names := make([]string, len(objs))
	var crds, rest []int
	wheres := make([]string, len(objs))
	for i, o := range objs {
		names[i], wheres[i] = ObjectName(o), o.GetNamespace()
		if isCRD(o) {
			crds = append(crds, i)
		} else {
			rest = append(rest, i)
		}
	}
	applyAll := func(idx []int) {
		// Resolve one after another (cheap, and a miss resets the mapper),
		// then send in parallel.
		res := make([]Resource, len(idx))
		nss := make([]string, len(idx))
		for j, i := range idx {
			res[j], nss[j], errs[i] = c.target(objs[i], opts.Namespace)
			wheres[i] = objs[i].GetNamespace() // placed in its namespace
		}
		perrs := forEach(ctx, len(idx), opts.Parallel, func(j int) error {
			i := idx[j]
			if errs[i] != nil {
				return errs[i]
			}
			var u *unstructured.Unstructured
			var err error
			if orig := opts.original(i); orig != nil {
				u, err = c.edit(ctx, res[j], nss[j], orig, objs[i], EditOptions{FieldManager: opts.FieldManager, DryRun: opts.DryRun})
			} else {
				u, err = c.applyOne(ctx, res[j], nss[j], objs[i], opts)
			}
			out[i] = u
			return err
		})
		for j, i := range idx {
			errs[i] = perrs[j]
		}
	}
	if len(crds) > 0 {
		applyAll(crds)
		if !opts.DryRun {
			timeout := opts.EstablishTimeout
			if timeout == 0 {
				timeout = time.Minute
			}
			for _, i := range crds {
				if errs[i] == nil {
					errs[i] = c.waitEstablished(ctx, objs[i].GetName(), timeout)
				}
			}
			c.rediscover()
		}
	}
	applyAll(rest)
	return out, bulkError(names, wheres, errs)
}

// applyOne applies obj as opts.manager(). Fields kubectl applied client-side
// are taken over first, as kubectl does (see takeOverCSA), and conflicts
// with k8sh's own earlier updates and patches are not conflicts: the apply
// then takes those fields (see selfConflicts).
func (c *Client) applyOne(ctx context.Context, r Resource, ns string, obj *unstructured.Unstructured, opts ApplyOptions) (*unstructured.Unstructured, error) {
	if obj.GetName() == "" {
		return nil, fmt.Errorf("metadata.name is required for apply")
	}
	data, err := json.Marshal(applyBody(obj).Object)
	if err != nil {
		return nil, err
	}
	u, err := c.applyData(ctx, r, ns, obj.GetName(), data, opts, opts.Force)
	var ce *ConflictError
	if errors.As(err, &ce) {
		own := sets.New(opts.manager())
		if opts.DryRun {
			// What the apply would migrate first conflicts no more.
			if live, gerr := c.writeClient(r, ns).Get(ctx, obj.GetName(), metav1.GetOptions{}); gerr == nil {
				own = own.Union(csaManagers(live))
			}
		} else {
			// Client-side-applied fields conflict until migrated, as
			// kubectl migrates them after its first server-side apply.
			migrated, merr := c.takeOverCSA(ctx, r, ns, obj.GetName(), nil, opts.manager())
			if merr != nil {
				return nil, merr
			}
			if migrated {
				u, err = c.applyData(ctx, r, ns, obj.GetName(), data, opts, opts.Force)
			}
		}
		if errors.As(err, &ce) && ce.onlyWith(own) {
			u, err = c.applyData(ctx, r, ns, obj.GetName(), data, opts, true)
		}
	}
	if err != nil || opts.DryRun {
		return u, err
	}
	// Applied: fields kubectl still owns client-side are migrated and the
	// object applied again, so that what the file no longer holds goes, as
	// kubectl apply --server-side does.
	migrated, err := c.takeOverCSA(ctx, r, ns, obj.GetName(), u, opts.manager())
	if err != nil || !migrated {
		return u, err
	}
	return c.applyData(ctx, r, ns, obj.GetName(), data, opts, opts.Force)
}

// applyBody is obj without what a server-side apply must not send.
func applyBody(obj *unstructured.Unstructured) *unstructured.Unstructured {
	body := obj.DeepCopy()
	unstructured.RemoveNestedField(body.Object, "metadata", "managedFields")
	unstructured.RemoveNestedField(body.Object, "metadata", "resourceVersion")
	unstructured.RemoveNestedField(body.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(body.Object, "metadata", "uid")
	unstructured.RemoveNestedField(body.Object, "metadata", "generation")
	unstructured.RemoveNestedField(body.Object, "status")
	return body
}

// applyData sends one server-side apply of data.
func (c *Client) applyData(ctx context.Context, r Resource, ns, name string, data []byte, opts ApplyOptions, force bool) (*unstructured.Unstructured, error) {
	u, err := c.writeClient(r, ns).Patch(ctx, name, types.ApplyPatchType, data, metav1.PatchOptions{
		FieldManager: opts.manager(),
		Force:        &force,
		DryRun:       dryRunOpt(opts.DryRun),
	})
	if err != nil {
		return nil, writeError(err, ns)
	}
	return u, nil
}

// waitEstablished waits until the CRD called name is Established.
func (c *Client) waitEstablished(ctx context.Context, name string, timeout time.Duration) error {
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		u, err := c.dynamic.Resource(gvr).Get(ctx, name, metav1.GetOptions{})
		if err == nil && established(u) {
			return nil
		}
		if err == nil && u.GetDeletionTimestamp() != nil {
			return fmt.Errorf("the CustomResourceDefinition is being deleted")
		}
		if err != nil && !apierrors.IsNotFound(err) && ctx.Err() == nil {
			return apiError(err, "")
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return fmt.Errorf("not established after %s", timeout)
		}
	}
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// writeError rewords a failed write: a field-manager conflict lists each
// field and its owner and says how to take ownership; a stale
// resourceVersion says the object changed since it was read. Both end
// with the reason class, "(Conflict)", as apiError's errors do.
func writeError(err error, ns string) error {
	var se apierrors.APIStatus
	if !errors.As(err, &se) || !apierrors.IsConflict(err) {
		return apiError(err, ns)
	}
	st := se.Status()
	var fields []string
	var causes []metav1.StatusCause
	if st.Details != nil {
		for _, cause := range st.Details.Causes {
			if cause.Type == metav1.CauseTypeFieldManagerConflict {
				fields = append(fields, fmt.Sprintf("%s (%s)", cause.Field, cause.Message))
				causes = append(causes, cause)
			}
		}
	}
	if len(fields) > 0 {
		return withReason(&ConflictError{Fields: fields, Causes: causes, Err: err}, err)
	}
	return withReason(&StaleError{Err: err}, err)
}

// ConflictError is a server-side apply that would change fields another
// field manager owns.
type ConflictError struct {
	// Fields are "<path> (conflict with "<manager>" ...)", one a field.
	Fields []string
	// Causes are the server's, one a field.
	Causes []metav1.StatusCause
	Err    error
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("apply conflict: %d field(s) owned by another manager: %s; apply with force=True to take ownership",
		len(e.Fields), strings.Join(e.Fields, ", "))
}

func (e *ConflictError) Unwrap() error { return e.Err }

// StaleError is an update of an object that changed since it was read.
type StaleError struct{ Err error }

func (e *StaleError) Error() string {
	return fmt.Sprintf("conflict: the object changed since it was read (its metadata.resourceVersion is stale); get it again and reapply the change (%v)", e.Err)
}

func (e *StaleError) Unwrap() error { return e.Err }

// Create creates obj; it fails if it exists.
func (c *Client) Create(ctx context.Context, obj *unstructured.Unstructured, namespace string, dryRun bool) (*unstructured.Unstructured, error) {
	r, ns, err := c.target(obj, namespace)
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: err}
	}
	u, err := c.resourceClient(r, ns).Create(ctx, obj, metav1.CreateOptions{FieldManager: DefaultFieldManager, DryRun: dryRunOpt(dryRun)})
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: writeError(err, ns)}
	}
	return u, nil
}

// Update replaces obj. When obj has a metadata.resourceVersion and the object
// changed since, it fails with a *StaleError.
func (c *Client) Update(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) (*unstructured.Unstructured, error) {
	r, ns, err := c.target(obj, "")
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: err}
	}
	if obj.GetName() == "" {
		return nil, &ObjectError{Object: ObjectName(obj), Err: fmt.Errorf("metadata.name is required for update")}
	}
	u, err := c.resourceClient(r, ns).Update(ctx, obj, metav1.UpdateOptions{FieldManager: DefaultFieldManager, DryRun: dryRunOpt(dryRun)})
	if err != nil {
		return nil, &ObjectError{Object: ObjectName(obj), Err: writeError(err, ns)}
	}
	return u, nil
}

// PatchTypes maps the names k8sh users give patch types to the API's.
var PatchTypes = map[string]types.PatchType{
	"merge":     types.MergePatchType,
	"strategic": types.StrategicMergePatchType,
	"json":      types.JSONPatchType,
}

// Patch patches the object of kind called name with data, a JSON patch
// document of type typ ("merge", "strategic" or "json"), on the object or on
// its subresource ("status", "scale").
func (c *Client) Patch(ctx context.Context, kind, name, namespace, typ string, data []byte, subresource string, dryRun bool) (*unstructured.Unstructured, error) {
	pt, ok := PatchTypes[typ]
	if !ok {
		return nil, fmt.Errorf("unknown patch type %q (want merge, strategic or json)", typ)
	}
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, namespace)
	var sub []string
	if subresource != "" {
		sub = []string{subresource}
	}
	u, err := c.resourceClient(r, ns).Patch(ctx, name, pt, data, metav1.PatchOptions{FieldManager: DefaultFieldManager, DryRun: dryRunOpt(dryRun)}, sub...)
	if err != nil {
		return nil, &ObjectError{Object: strings.ToLower(r.GVK.Kind) + "/" + name, Err: writeError(err, ns)}
	}
	return u, nil
}

// Scale sets the replicas of the object of kind called name through its
// scale subresource, and returns the Scale.
func (c *Client) Scale(ctx context.Context, kind, name, namespace string, replicas int64, dryRun bool) (*unstructured.Unstructured, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("replicas must not be negative, got %d", replicas)
	}
	data := fmt.Sprintf(`{"spec":{"replicas":%d}}`, replicas)
	return c.Patch(ctx, kind, name, namespace, "merge", []byte(data), "scale", dryRun)
}

// writeClient is the resource client of bulk operations: without a
// client-side rate limit (see Client.bulk).
func (c *Client) writeClient(r Resource, ns string) dynamic.ResourceInterface {
	return checked(c.bulk.Resource(r.GVR), ns)
}

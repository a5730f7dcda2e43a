package fake

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strconv"
	"strings"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

var errModified = errors.New("the object has been modified; please apply your changes to the latest version and try again")

// lookup is the stored object req names, or NotFound.
func (s *Server) lookup(req *request) (*unstructured.Unstructured, error) {
	o, ok := s.bucket(req.res.gvr)[key(req.namespace, req.name)]
	if !ok {
		return nil, apierrors.NewNotFound(gr(req.res), req.name)
	}
	// A custom resource is stored at the version asked for last: the
	// versions of one differ only in apiVersion (atVersion).
	o.SetAPIVersion(req.res.gvr.GroupVersion().String())
	return o, nil
}

func (s *Server) get(req *request) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("get") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "get")
	}
	o, err := s.lookup(req)
	if err != nil {
		return nil, err
	}
	if req.sub == "scale" {
		return scaleOf(req.res, o)
	}
	return o.DeepCopy(), nil
}

// list answers a list: the matching objects sorted as etcd keeps them (by
// namespace, then name), paged by limit with a continue token.
func (s *Server) list(req *request, q url.Values) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("list") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "list")
	}
	keys, err := s.matching(req, q)
	if err != nil {
		return nil, err
	}
	start := 0
	if c := q.Get("continue"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil {
			return nil, apierrors.NewBadRequest("continue key is not valid: " + err.Error())
		}
		after := string(b)
		start = sort.SearchStrings(keys, after)
		if start < len(keys) && keys[start] == after {
			start++
		}
	}
	end := len(keys)
	next := ""
	if limit, err := strconv.Atoi(q.Get("limit")); err == nil && limit > 0 && start+limit < len(keys) {
		end = start + limit
		next = base64.RawURLEncoding.EncodeToString([]byte(keys[end-1]))
	}
	items := make([]any, 0, end-start)
	for _, k := range keys[start:end] {
		items = append(items, atVersion(req.res, s.bucket(req.res.gvr)[k]).DeepCopy().Object)
	}
	meta := map[string]any{"resourceVersion": strconv.FormatInt(s.rv, 10)}
	if next != "" {
		meta["continue"] = next
		meta["remainingItemCount"] = int64(len(keys) - end)
	}
	return map[string]any{
		"apiVersion": req.res.gvr.GroupVersion().String(),
		"kind":       req.res.kind + "List",
		"metadata":   meta,
		"items":      items,
	}, nil
}

// matching are the keys of the objects of req's resource (in its
// namespace, if any) that q's selectors match, sorted as etcd keeps them.
func (s *Server) matching(req *request, q url.Values) ([]string, error) {
	match, err := selector(req.res, q)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k, o := range s.bucket(req.res.gvr) {
		if (req.namespace == "" || o.GetNamespace() == req.namespace) && match(o) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys, nil
}

// selector is the filter of a list, watch or deletecollection's
// labelSelector and fieldSelector.
func selector(res *resource, q url.Values) (func(*unstructured.Unstructured) bool, error) {
	ls, err := labels.Parse(q.Get("labelSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	fs, err := fields.ParseSelector(q.Get("fieldSelector"))
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	supported, own := fieldLabels(res)
	for _, r := range fs.Requirements() {
		if _, ok := supported[r.Field]; !ok {
			if !own {
				return nil, apierrors.NewBadRequest(fmt.Sprintf("%q is not a known field selector: only %q, %q", r.Field, "metadata.name", "metadata.namespace"))
			}
			return nil, apierrors.NewBadRequest(fmt.Sprintf("field label not supported: %s", r.Field))
		}
	}
	return func(o *unstructured.Unstructured) bool {
		if !ls.Matches(labels.Set(o.GetLabels())) {
			return false
		}
		if fs.Empty() {
			return true
		}
		set := fields.Set{}
		for f, path := range supported {
			v, _, _ := unstructured.NestedFieldNoCopy(o.Object, path...)
			switch v := v.(type) {
			case string:
				set[f] = v
			case bool:
				set[f] = strconv.FormatBool(v)
			case int64:
				set[f] = strconv.FormatInt(v, 10)
			case nil:
				set[f] = ""
			default:
				set[f] = fmt.Sprint(v)
			}
		}
		return fs.Matches(set)
	}, nil
}

// fieldLabels are the field selectors a resource supports, as the
// apiserver's field label conversions of 1.37 declare them (pkg/apis/*/v1
// conversion.go), with the path of each in the object, and whether the
// kind has a conversion of its own (which words a refusal differently).
func fieldLabels(res *resource) (map[string][]string, bool) {
	m := map[string][]string{}
	add := func(names ...string) {
		for _, n := range names {
			m[n] = strings.Split(n, ".")
		}
	}
	own := true
	switch res.gvr.Group + "/" + res.kind {
	case "/Pod":
		add("metadata.name", "metadata.namespace", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
			"spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")
	case "/Node":
		add("metadata.name", "spec.unschedulable")
	case "/ReplicationController":
		add("metadata.name", "metadata.namespace", "status.replicas")
	case "/Event":
		add("metadata.name", "metadata.namespace", "involvedObject.kind", "involvedObject.namespace", "involvedObject.name",
			"involvedObject.uid", "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
			"reason", "reportingComponent", "type")
		m["source"] = []string{"source", "component"}
	case "events.k8s.io/Event":
		add("metadata.name", "metadata.namespace", "reason", "type")
		for _, f := range []string{"kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath"} {
			m["regarding."+f] = []string{"regarding", f}
		}
		m["reportingController"] = []string{"reportingController"}
	case "/Namespace":
		add("metadata.name", "status.phase")
	case "/Secret":
		add("metadata.name", "metadata.namespace", "type")
	case "/Service":
		add("metadata.name", "metadata.namespace", "spec.clusterIP", "spec.type")
	case "batch/Job":
		add("metadata.name", "metadata.namespace", "status.successful")
	case "certificates.k8s.io/CertificateSigningRequest", "certificates.k8s.io/ClusterTrustBundle":
		add("metadata.name", "spec.signerName")
	case "resource.k8s.io/ResourceSlice":
		add("metadata.name", "spec.nodeName", "spec.driver", "spec.pool.name")
	default:
		add("metadata.name", "metadata.namespace")
		own = false
	}
	return m, own
}

// decodeBody reads an object of req's resource from body (JSON or YAML).
func decodeBody(req *request, body []byte) (*unstructured.Unstructured, error) {
	m, err := decodeJSON(body)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	gvk := req.res.gvk()
	if req.sub == "scale" {
		return u, nil
	}
	if u.GetAPIVersion() == "" && u.GetKind() == "" {
		u.SetGroupVersionKind(gvk)
	}
	if u.GroupVersionKind() != gvk {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", u.GetAPIVersion(), gvk.GroupVersion()))
	}
	if req.namespace != "" && u.GetNamespace() != "" && u.GetNamespace() != req.namespace {
		return nil, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	if req.res.namespaced {
		u.SetNamespace(req.namespace)
	}
	if req.name != "" && u.GetName() != "" && u.GetName() != req.name {
		return nil, apierrors.NewBadRequest("the name of the object (" + u.GetName() + ") does not match the name on the URL (" + req.name + ")")
	}
	if req.name != "" {
		u.SetName(req.name)
	}
	mergeStringData(req.res, u)
	return u, nil
}

// decodeJSON decodes an object from JSON or YAML, whole numbers as int64
// as the apiserver's decoder keeps them.
func decodeJSON(body []byte) (map[string]any, error) {
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded: %v", err))
	}
	var m map[string]any
	if err := utiljson.Unmarshal(js, &m); err != nil || m == nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the body of the request could not be decoded: %v", err))
	}
	return m, nil
}

// checkNamespace refuses an object in a namespace that does not exist or
// is going, as the NamespaceLifecycle admission plugin does.
func (s *Server) checkNamespace(req *request) error {
	if !req.res.namespaced {
		return nil
	}
	ns, ok := s.bucket(nsGVR)[key("", req.namespace)]
	if !ok {
		return apierrors.NewNotFound(gr(s.res(nsGVR)), req.namespace)
	}
	if ns.GetDeletionTimestamp() != nil {
		return apierrors.NewForbidden(gr(req.res), "", fmt.Errorf("unable to create new content in namespace %s because it is being terminated", req.namespace))
	}
	return nil
}

func (s *Server) create(req *request, q url.Values, body []byte, agent string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("create") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "create")
	}
	u, err := decodeBody(req, body)
	if err != nil {
		return nil, err
	}
	if u.GetName() == "" && u.GetGenerateName() != "" {
		u.SetName(u.GetGenerateName() + utilrand.String(5))
	}
	if u.GetName() == "" {
		return nil, invalid(req.res, "", field.Required(field.NewPath("metadata", "name"), "name or generateName is required"))
	}
	req.name = u.GetName()
	if err := s.checkNamespace(req); err != nil {
		return nil, err
	}
	if old, err := s.lookup(req); err == nil {
		e := apierrors.NewAlreadyExists(gr(req.res), u.GetName())
		if old.GetDeletionTimestamp() != nil {
			e.ErrStatus.Message = "object is being deleted: " + e.ErrStatus.Message
		}
		return nil, e
	}
	for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "deletionTimestamp", "generation"} {
		unstructured.RemoveNestedField(u.Object, "metadata", f)
	}
	if req.res.subs["status"] && req.res.gvr != nsGVR {
		unstructured.RemoveNestedField(u.Object, "status")
	}
	manager := managerOf(q, agent)
	withFields, err := s.fields.update(req.res, "", s.emptyOf(req.res), u, manager)
	if err != nil {
		return nil, err
	}
	if dryRun(q) {
		withFields.SetUID("")
		withFields.SetCreationTimestamp(metav1.NewTime(s.now()))
		if hasGeneration(req.res) {
			withFields.SetGeneration(1)
		}
		return withFields, nil
	}
	s.storeNew(req.res, withFields)
	s.record("create", req.res, nil, withFields)
	return withFields.DeepCopy(), nil
}

func (s *Server) emptyOf(res *resource) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(res.gvk())
	return u
}

func managerOf(q url.Values, agent string) string {
	if m := q.Get("fieldManager"); m != "" {
		return m
	}
	return agent
}

func invalid(res *resource, name string, errs ...*field.Error) error {
	return apierrors.NewInvalid(res.gvk().GroupKind(), name, field.ErrorList(errs))
}

func (s *Server) record(verb string, res *resource, before, after *unstructured.Unstructured) {
	c := Change{Verb: verb, GVR: res.gvr, Kind: res.kind}
	if before != nil {
		c.Before = before.DeepCopy()
		c.Namespace, c.Name = before.GetNamespace(), before.GetName()
	}
	if after != nil {
		c.After = after.DeepCopy()
		c.Namespace, c.Name = after.GetNamespace(), after.GetName()
	}
	s.changes = append(s.changes, c)
}

func (s *Server) update(req *request, q url.Values, body []byte, agent string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("update") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "update")
	}
	old, err := s.lookup(req)
	if err != nil {
		return nil, err
	}
	u, err := decodeBody(req, body)
	if err != nil {
		return nil, err
	}
	if req.sub == "scale" {
		return s.updateScale(req, q, old, u, agent)
	}
	if rv := u.GetResourceVersion(); rv == "" && req.res.crd {
		return nil, invalid(req.res, req.name, field.Invalid(field.NewPath("metadata", "resourceVersion"), "0x0", "must be specified for an update"))
	}
	return s.write(req, q, "update", old, u, managerOf(q, agent))
}

// write stores u as the new state of old (an update, a patch or a
// non-creating apply): the precondition of u's resourceVersion, what a
// status subresource keeps, managedFields, generation, finalizers.
func (s *Server) write(req *request, q url.Values, verb string, old, u *unstructured.Unstructured, manager string) (any, error) {
	if rv := u.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, apierrors.NewConflict(gr(req.res), req.name, errModified)
	}
	if u.GetUID() != "" && u.GetUID() != old.GetUID() {
		return nil, apierrors.NewConflict(gr(req.res), req.name, fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", u.GetUID(), old.GetUID()))
	}
	u = u.DeepCopy()
	// What the server owns.
	u.SetUID(old.GetUID())
	u.SetCreationTimestamp(old.GetCreationTimestamp())
	u.SetDeletionTimestamp(old.GetDeletionTimestamp())
	u.SetResourceVersion(old.GetResourceVersion())
	if g := old.GetGeneration(); g != 0 {
		u.SetGeneration(g)
	} else {
		unstructured.RemoveNestedField(u.Object, "metadata", "generation")
	}
	switch {
	case req.sub == "status":
		// The status subresource changes status only.
		st, hasStatus := u.Object["status"]
		u = old.DeepCopy()
		if hasStatus {
			u.Object["status"] = st
		} else {
			delete(u.Object, "status")
		}
	case req.res.subs["status"]:
		if st, ok := old.Object["status"]; ok {
			u.Object["status"] = st
		} else {
			delete(u.Object, "status")
		}
	}
	withFields, err := s.fields.update(req.res, req.sub, old, u, manager)
	if err != nil {
		return nil, err
	}
	return s.commit(req, q, verb, old, withFields)
}

// commit stores next as old's successor unless nothing changed: a new
// resourceVersion, the generation bumped when more than metadata and
// status changed, and the object gone when it was being deleted and its
// last finalizer went.
func (s *Server) commit(req *request, q url.Values, verb string, old, next *unstructured.Unstructured) (any, error) {
	if sameObject(old, next) {
		return old.DeepCopy(), nil
	}
	if err := validateUpdate(req.res, old, next); err != nil {
		return nil, err
	}
	if hasGeneration(req.res) && specChanged(old, next) {
		next.SetGeneration(old.GetGeneration() + 1)
	}
	if dryRun(q) {
		return next, nil
	}
	if next.GetDeletionTimestamp() != nil && len(next.GetFinalizers()) == 0 {
		s.remove(req.res, next)
		s.record("delete", req.res, old, nil)
		return next.DeepCopy(), nil
	}
	s.put(req.res, next, "MODIFIED")
	s.record(verb, req.res, old, next)
	return next.DeepCopy(), nil
}

// sameObject tells whether a write changed nothing (the timestamps of
// managedFields aside), in which case the apiserver keeps the object and
// its resourceVersion.
func sameObject(a, b *unstructured.Unstructured) bool {
	strip := func(u *unstructured.Unstructured) map[string]any {
		c := u.DeepCopy()
		mf := c.GetManagedFields()
		for i := range mf {
			mf[i].Time = nil
		}
		c.SetManagedFields(mf)
		unstructured.RemoveNestedField(c.Object, "metadata", "resourceVersion")
		return c.Object
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// specChanged tells whether more than metadata and status changed.
func specChanged(a, b *unstructured.Unstructured) bool {
	rest := func(u *unstructured.Unstructured) map[string]any {
		m := map[string]any{}
		for k, v := range u.Object {
			if k != "metadata" && k != "status" {
				m[k] = v
			}
		}
		return m
	}
	return !reflect.DeepEqual(rest(a), rest(b))
}

func (s *Server) patch(req *request, q url.Values, contentType string, body []byte, agent string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("patch") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "patch")
	}
	contentType, _, _ = strings.Cut(contentType, ";")
	if contentType == "application/apply-patch+yaml" {
		return s.apply(req, q, body, agent)
	}
	old, err := s.lookup(req)
	if err != nil {
		return nil, err
	}
	current := old
	if req.sub == "scale" {
		sc, err := scaleOf(req.res, old)
		if err != nil {
			return nil, err
		}
		current = sc
	}
	cur, err := json.Marshal(current.Object)
	if err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	js, err := yaml.YAMLToJSON(body)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	var patched []byte
	switch contentType {
	case "application/json-patch+json":
		p, err := jsonpatch.DecodePatch(js)
		if err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
		if patched, err = p.Apply(cur); err != nil {
			return nil, apierrors.NewGenericServerResponse(http.StatusUnprocessableEntity, "patch", gr(req.res), req.name, err.Error(), 0, false)
		}
	case "application/merge-patch+json":
		if patched, err = jsonpatch.MergePatch(cur, js); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	case "application/strategic-merge-patch+json":
		typed, err := scheme.Scheme.New(current.GroupVersionKind())
		if err != nil || req.res.crd {
			return nil, unsupportedPatch(req.res)
		}
		if patched, err = strategicpatch.StrategicMergePatch(cur, js, typed); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	default:
		return nil, unsupportedPatch(req.res)
	}
	m, err := decodeJSON(patched)
	if err != nil {
		return nil, err
	}
	next := &unstructured.Unstructured{Object: m}
	mergeStringData(req.res, next)
	if req.sub == "scale" {
		return s.updateScale(req, q, old, next, agent)
	}
	if next.GetResourceVersion() == old.GetResourceVersion() {
		next.SetResourceVersion("") // kept from the object: no precondition
	}
	return s.write(req, q, "patch", old, next, managerOf(q, agent))
}

func unsupportedPatch(res *resource) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusUnsupportedMediaType, Reason: metav1.StatusReasonUnsupportedMediaType,
		Message: "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml",
	}}
}

// apply is server-side apply: the field manager merges the applied
// configuration into the live object (or an empty one) and says which
// fields conflict with other managers unless force.
func (s *Server) apply(req *request, q url.Values, body []byte, agent string) (any, error) {
	manager := q.Get("fieldManager")
	if manager == "" {
		return nil, apierrors.NewBadRequest("PATCH, with apply, requires the fieldManager query parameter to be set")
	}
	applied, err := decodeBody(req, body)
	if err != nil {
		return nil, err
	}
	if len(applied.GetManagedFields()) > 0 {
		return nil, apierrors.NewBadRequest("metadata.managedFields must be nil")
	}
	force := q.Get("force") == "true"
	old, err := s.lookup(req)
	if err != nil {
		if err := s.checkNamespace(req); err != nil {
			return nil, err
		}
		live := s.emptyOf(req.res)
		if req.res.namespaced {
			live.SetNamespace(req.namespace)
		}
		live.SetName(req.name)
		next, err := s.fields.apply(req.res, req.sub, live, applied, manager, force)
		if err != nil {
			return nil, err
		}
		if req.res.subs["status"] {
			unstructured.RemoveNestedField(next.Object, "status")
		}
		if dryRun(q) {
			return &created{next}, nil
		}
		s.storeNew(req.res, next)
		s.record("apply", req.res, nil, next)
		return &created{next.DeepCopy()}, nil
	}
	if rv := applied.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, apierrors.NewConflict(gr(req.res), req.name, errModified)
	}
	next, err := s.fields.apply(req.res, req.sub, old, applied, manager, force)
	if err != nil {
		return nil, err
	}
	next.SetResourceVersion(old.GetResourceVersion())
	if req.sub == "" && req.res.subs["status"] {
		if st, ok := old.Object["status"]; ok {
			next.Object["status"] = st
		} else {
			delete(next.Object, "status")
		}
	}
	return s.commit(req, q, "apply", old, next)
}

// deleteOptions reads a DELETE's body (metav1.DeleteOptions) or query.
func deleteOptions(q url.Values, body []byte) (*metav1.DeleteOptions, error) {
	opts := &metav1.DeleteOptions{}
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := json.Unmarshal(body, opts); err != nil {
			return nil, apierrors.NewBadRequest(err.Error())
		}
	}
	if p := q.Get("propagationPolicy"); p != "" {
		pp := metav1.DeletionPropagation(p)
		opts.PropagationPolicy = &pp
	}
	if dryRun(q) {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	return opts, nil
}

func (s *Server) delete(req *request, q url.Values, body []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("delete") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "delete")
	}
	opts, err := deleteOptions(q, body)
	if err != nil {
		return nil, err
	}
	old, err := s.lookup(req)
	if err != nil {
		return nil, err
	}
	return s.deleteOne(req.res, old, opts)
}

func (s *Server) deleteOne(res *resource, old *unstructured.Unstructured, opts *metav1.DeleteOptions) (any, error) {
	if p := opts.Preconditions; p != nil {
		if p.UID != nil && *p.UID != old.GetUID() {
			return nil, apierrors.NewConflict(gr(res), old.GetName(), fmt.Errorf("Precondition failed: UID in precondition: %s, UID in object meta: %s", *p.UID, old.GetUID()))
		}
		if p.ResourceVersion != nil && *p.ResourceVersion != old.GetResourceVersion() {
			return nil, apierrors.NewConflict(gr(res), old.GetName(), fmt.Errorf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", *p.ResourceVersion, old.GetResourceVersion()))
		}
	}
	dry := len(opts.DryRun) > 0
	if len(old.GetFinalizers()) > 0 {
		// Finalizers hold it: it is marked and stays until they are gone.
		if old.GetDeletionTimestamp() != nil {
			return old.DeepCopy(), nil
		}
		next := old.DeepCopy()
		now := metav1.NewTime(s.now())
		next.SetDeletionTimestamp(&now)
		zero := int64(0)
		next.SetDeletionGracePeriodSeconds(&zero)
		if hasGeneration(res) {
			next.SetGeneration(old.GetGeneration() + 1)
		}
		if dry {
			return next, nil
		}
		s.put(res, next, "MODIFIED")
		s.record("delete", res, old, next)
		return next.DeepCopy(), nil
	}
	if dry {
		return old.DeepCopy(), nil
	}
	s.remove(res, old)
	s.record("delete", res, old, nil)
	if res.crd {
		return old.DeepCopy(), nil
	}
	return &metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusSuccess,
		Details:  &metav1.StatusDetails{Name: old.GetName(), Group: res.gvr.Group, Kind: res.gvr.Resource, UID: old.GetUID()},
	}, nil
}

func (s *Server) deleteCollection(req *request, q url.Values, body []byte) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !req.res.allows("deletecollection") {
		return nil, apierrors.NewMethodNotSupported(gr(req.res), "deletecollection")
	}
	opts, err := deleteOptions(q, body)
	if err != nil {
		return nil, err
	}
	keys, err := s.matching(req, q)
	if err != nil {
		return nil, err
	}
	items := []any{}
	for _, k := range keys {
		o := s.bucket(req.res.gvr)[k]
		if _, err := s.deleteOne(req.res, o, opts); err != nil {
			return nil, err
		}
		items = append(items, atVersion(req.res, o).DeepCopy().Object)
	}
	return map[string]any{"apiVersion": req.res.gvr.GroupVersion().String(), "kind": req.res.kind + "List",
		"metadata": map[string]any{"resourceVersion": strconv.FormatInt(s.rv, 10)}, "items": items}, nil
}

// scaleOf is the autoscaling/v1 Scale of a workload.
func scaleOf(res *resource, o *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	replicas, _, _ := unstructured.NestedInt64(o.Object, "spec", "replicas")
	status, _, _ := unstructured.NestedInt64(o.Object, "status", "replicas")
	sel := ""
	if m, ok, _ := unstructured.NestedStringMap(o.Object, "spec", "selector", "matchLabels"); ok {
		sel = labels.SelectorFromSet(m).String()
	} else if m, ok, _ := unstructured.NestedStringMap(o.Object, "spec", "selector"); ok {
		sel = labels.SelectorFromSet(m).String()
	}
	sc := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "autoscaling/v1", "kind": "Scale",
		"metadata": map[string]any{
			"name": o.GetName(), "namespace": o.GetNamespace(), "uid": string(o.GetUID()),
			"resourceVersion": o.GetResourceVersion(), "creationTimestamp": o.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z"),
		},
		"spec":   map[string]any{"replicas": replicas},
		"status": map[string]any{"replicas": status, "selector": sel},
	}}
	return sc, nil
}

// updateScale writes the replicas of a Scale into its workload.
func (s *Server) updateScale(req *request, q url.Values, old, sc *unstructured.Unstructured, agent string) (any, error) {
	replicas, ok, _ := unstructured.NestedInt64(sc.Object, "spec", "replicas")
	if !ok {
		return nil, invalid(req.res, req.name, field.Required(field.NewPath("spec", "replicas"), ""))
	}
	if rv := sc.GetResourceVersion(); rv != "" && rv != old.GetResourceVersion() {
		return nil, apierrors.NewConflict(gr(req.res), req.name, errModified)
	}
	next := old.DeepCopy()
	unstructured.SetNestedField(next.Object, replicas, "spec", "replicas")
	// The replicas are the manager's through the scale subresource, as the
	// apiserver's scale handler records them.
	withFields, err := s.fields.update(req.res, "scale", old, next, managerOf(q, agent))
	if err != nil {
		return nil, err
	}
	res, err := s.commit(req, q, "patch", old, withFields)
	if err != nil {
		return nil, err
	}
	return scaleOf(req.res, res.(*unstructured.Unstructured))
}

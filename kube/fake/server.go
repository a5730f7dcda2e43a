// Package fake is an in-memory Kubernetes API server for tests of k8sh
// scripts (k8s.fake): an http.Handler that serves the built-in kinds of
// kube-apiserver 1.37 and the kinds of the CRDs it holds, with the
// semantics a script can see: get, list and watch with label and field
// selectors, paging, create (generateName), update with resourceVersion
// preconditions, merge, JSON and strategic merge patches, server-side
// apply with managedFields and conflicts (sigs.k8s.io/structured-merge-diff,
// through the apiserver's own field manager), status and scale
// subresources, delete with finalizers and preconditions, dry runs,
// resourceVersion and generation kept as the apiserver keeps them, a
// Secret's stringData merged into its data, immutable ConfigMaps and
// Secrets and a Secret's type kept as its validation keeps them.
//
// It does not model controllers (no Pods for a Deployment, no garbage
// collector: ownerReferences do not cascade, deleting a namespace deletes
// its objects at once), admission, authorization, validation beyond the
// checks above, or defaulting (the objects hold what was sent). Exec,
// logs, port-forward and server-side printing (Tables) are not served.
package fake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/uuid"
)

// Server is the fake API server. Its zero value is not usable: New makes
// one.
type Server struct {
	mu      sync.Mutex
	disc    *discovery
	rv      int64
	objects map[schema.GroupVersionResource]map[string]*unstructured.Unstructured // by "ns/name"
	log     []Event                                                               // every change, for watches
	notify  chan struct{}                                                         // closed and replaced at each change
	changes []Change
	fields  *fieldManagers
	now     func() time.Time
}

// Event is one change of an object, as a watch delivers it.
type Event struct {
	Type   string // ADDED, MODIFIED, DELETED
	GVR    schema.GroupVersionResource
	Object *unstructured.Unstructured
	rv     int64
	store  schema.GroupVersionResource // the store's key of GVR (storageOf)
}

// Change is one change a client made, for tests that assert on what a
// script changed: Verb is create, update, patch, apply or delete; Before
// is nil for a creation, After nil for a deletion.
type Change struct {
	Verb          string
	GVR           schema.GroupVersionResource
	Kind          string
	Namespace     string
	Name          string
	Before, After *unstructured.Unstructured
}

// New returns a fake API server holding the namespaces a new cluster has
// (default, kube-system, kube-public, kube-node-lease).
func New() (*Server, error) {
	d, err := newDiscovery()
	if err != nil {
		return nil, err
	}
	s := &Server{
		disc:    d,
		objects: map[schema.GroupVersionResource]map[string]*unstructured.Unstructured{},
		notify:  make(chan struct{}),
		fields:  newFieldManagers(),
		now:     func() time.Time { return time.Now().UTC().Truncate(time.Second) },
	}
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		if err := s.Add(map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": ns}}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add stores objects as they are given (apiVersion, kind, metadata.name,
// and metadata.namespace for a namespaced kind; "default" when it has
// none), as if they had been created earlier: uid, creationTimestamp,
// resourceVersion and generation are set where missing. CRDs are added
// first, so that their kinds can be added in the same call. A namespace an
// object names is made when it does not exist.
func (s *Server) Add(objs ...map[string]any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	sort.SliceStable(objs, func(i, j int) bool {
		return objs[i]["kind"] == "CustomResourceDefinition" && objs[j]["kind"] != "CustomResourceDefinition"
	})
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o)}
		gvk := u.GroupVersionKind()
		res, ok := s.disc.resourceFor(gvk)
		if !ok {
			return fmt.Errorf("no kind %q in version %q: not a built-in kind, and no CustomResourceDefinition given defines it", gvk.Kind, gvk.GroupVersion())
		}
		if u.GetName() == "" {
			return fmt.Errorf("a %s without metadata.name", gvk.Kind)
		}
		mergeStringData(res, u)
		if res.namespaced {
			if u.GetNamespace() == "" {
				u.SetNamespace("default")
			}
			if _, ok := s.bucket(nsGVR)[u.GetNamespace()]; !ok {
				s.storeNew(s.res(nsGVR), &unstructured.Unstructured{Object: map[string]any{
					"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": u.GetNamespace()}}})
			}
		} else {
			u.SetNamespace("")
		}
		if _, exists := s.bucket(res.gvr)[key(u.GetNamespace(), u.GetName())]; exists {
			return fmt.Errorf("%s %s given twice", gvk.Kind, key(u.GetNamespace(), u.GetName()))
		}
		s.storeNew(res, u)
	}
	return nil
}

var (
	nsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// established gives a CRD the status the apiextensions controllers give it
// at once: its names accepted, Established, its storage version stored.
func established(crd *unstructured.Unstructured) {
	if _, ok, _ := unstructured.NestedSlice(crd.Object, "status", "conditions"); ok {
		return
	}
	names, _, _ := unstructured.NestedMap(crd.Object, "spec", "names")
	if names != nil {
		if _, ok := names["listKind"]; !ok {
			if k, ok := names["kind"].(string); ok {
				names["listKind"] = k + "List"
			}
		}
		if _, ok := names["singular"]; !ok {
			if k, ok := names["kind"].(string); ok {
				names["singular"] = strings.ToLower(k)
			}
		}
		unstructured.SetNestedMap(crd.Object, names, "status", "acceptedNames")
		unstructured.SetNestedMap(crd.Object, runtime.DeepCopyJSON(names), "spec", "names")
	}
	var stored []any
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	for _, v := range versions {
		if vm, ok := v.(map[string]any); ok && vm["storage"] == true {
			stored = append(stored, vm["name"])
		}
	}
	unstructured.SetNestedSlice(crd.Object, stored, "status", "storedVersions")
	now := crd.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z")
	unstructured.SetNestedSlice(crd.Object, []any{
		map[string]any{"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now},
		map[string]any{"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now},
	}, "status", "conditions")
}

func (s *Server) res(gvr schema.GroupVersionResource) *resource { return s.disc.byGVR[gvr] }

func key(ns, name string) string { return ns + "/" + name }

// bucket is the objects of a resource, at any of its versions.
func (s *Server) bucket(gvr schema.GroupVersionResource) map[string]*unstructured.Unstructured {
	gvr = s.storageOf(gvr)
	b := s.objects[gvr]
	if b == nil {
		b = map[string]*unstructured.Unstructured{}
		s.objects[gvr] = b
	}
	return b
}

// storageOf is the key of a resource's objects in the store. The objects
// of a custom resource are one set whatever version they are read or
// written at (the apiserver stores them at the storage version and, for a
// CRD without a conversion webhook, converts them by setting apiVersion),
// so their key has no version.
func (s *Server) storageOf(gvr schema.GroupVersionResource) schema.GroupVersionResource {
	if res := s.disc.byGVR[gvr]; res != nil && res.crd {
		gvr.Version = ""
	}
	return gvr
}

// atVersion is u as res's version serves it: a custom resource's
// apiVersion is the one asked for (the "None" conversion of a CRD); u
// itself when that is already so, else a shallow copy.
func atVersion(res *resource, u *unstructured.Unstructured) *unstructured.Unstructured {
	gv := res.gvr.GroupVersion().String()
	if !res.crd || u.GetAPIVersion() == gv {
		return u
	}
	c := &unstructured.Unstructured{Object: make(map[string]any, len(u.Object))}
	for k, v := range u.Object {
		c.Object[k] = v
	}
	c.SetAPIVersion(gv)
	return c
}

// storeNew stores u, new, with the metadata the server sets.
func (s *Server) storeNew(res *resource, u *unstructured.Unstructured) {
	if u.GetUID() == "" {
		u.SetUID(uuid.NewUUID())
	}
	if ts := u.GetCreationTimestamp(); ts.IsZero() {
		u.SetCreationTimestamp(metav1.NewTime(s.now()))
	}
	if hasGeneration(res) && u.GetGeneration() == 0 {
		u.SetGeneration(1)
	}
	if res.gvr == nsGVR {
		unstructured.SetNestedField(u.Object, "Active", "status", "phase")
	}
	s.put(res, u, "ADDED")
}

// put stores u with the next resourceVersion and tells the watches.
func (s *Server) put(res *resource, u *unstructured.Unstructured, typ string) {
	s.rv++
	u.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	s.bucket(res.gvr)[key(u.GetNamespace(), u.GetName())] = u
	if res.gvr == crdGVR {
		established(u)
		s.disc.setCRD(u.GetName(), u)
	}
	s.event(res, u, typ)
}

// remove deletes u from the store and tells the watches.
func (s *Server) remove(res *resource, u *unstructured.Unstructured) {
	delete(s.bucket(res.gvr), key(u.GetNamespace(), u.GetName()))
	s.rv++
	u = u.DeepCopy()
	u.SetResourceVersion(strconv.FormatInt(s.rv, 10))
	if res.gvr == crdGVR {
		s.disc.setCRD(u.GetName(), nil)
		// The CRD's objects go with it, as the apiserver's cleanup removes them.
		for gvr := range s.objects {
			if gvr.Group+"/"+gvr.Resource == crdGroupResource(u) {
				for _, o := range s.objects[gvr] {
					s.remove(&resource{gvr: gvr}, o)
				}
			}
		}
	}
	if res.gvr == nsGVR {
		// No namespace controller: the namespace's objects go at once.
		for gvr, b := range s.objects {
			for _, o := range b {
				if o.GetNamespace() == u.GetName() {
					s.remove(&resource{gvr: gvr}, o)
				}
			}
		}
	}
	s.event(res, u, "DELETED")
}

func crdGroupResource(crd *unstructured.Unstructured) string {
	g, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	p, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	return g + "/" + p
}

func (s *Server) event(res *resource, u *unstructured.Unstructured, typ string) {
	s.log = append(s.log, Event{Type: typ, GVR: res.gvr, Object: u.DeepCopy(), rv: s.rv, store: s.storageOf(res.gvr)})
	close(s.notify)
	s.notify = make(chan struct{})
}

// hasGeneration tells the kinds whose metadata.generation the apiserver
// keeps: custom resources and the built-in kinds with a spec that
// controllers act on.
func hasGeneration(res *resource) bool {
	if res.crd {
		return true
	}
	switch res.gvr.Group + "/" + res.kind {
	case "apps/Deployment", "apps/ReplicaSet", "apps/StatefulSet", "apps/DaemonSet", "/ReplicationController",
		"batch/Job", "batch/CronJob", "policy/PodDisruptionBudget", "networking.k8s.io/NetworkPolicy",
		"networking.k8s.io/Ingress", "autoscaling/HorizontalPodAutoscaler", "/Pod",
		"apiextensions.k8s.io/CustomResourceDefinition", "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
		"admissionregistration.k8s.io/MutatingAdmissionPolicy", "flowcontrol.apiserver.k8s.io/FlowSchema",
		"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration", "storage.k8s.io/VolumeAttributesClass":
		return true
	}
	return false
}

// Changes returns what clients changed, in order (Add's objects aside).
func (s *Server) Changes() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Change(nil), s.changes...)
}

// request is one API request on a resource, parsed from its path.
type request struct {
	res       *resource
	namespace string
	name      string
	sub       string
}

// parse finds the resource of an API path: /api/v1/[namespaces/NS/]RES[/NAME[/SUB]],
// /apis/GROUP/VERSION/... likewise.
func (s *Server) parse(path string) (*request, error) {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var gv schema.GroupVersion
	switch {
	case len(parts) >= 3 && parts[0] == "api":
		gv, parts = schema.GroupVersion{Version: parts[1]}, parts[2:]
	case len(parts) >= 4 && parts[0] == "apis":
		gv, parts = schema.GroupVersion{Group: parts[1], Version: parts[2]}, parts[3:]
	default:
		return nil, notFoundPath()
	}
	r := &request{}
	if len(parts) >= 3 && parts[0] == "namespaces" && parts[2] != "status" && parts[2] != "finalize" {
		r.namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 3 {
		return nil, notFoundPath()
	}
	res := s.res(gv.WithResource(parts[0]))
	if res == nil {
		return nil, notFoundPath()
	}
	r.res = res
	if len(parts) > 1 {
		r.name = parts[1]
	}
	if len(parts) > 2 {
		r.sub = parts[2]
		if !res.subs[r.sub] {
			return nil, notFoundPath()
		}
		if r.sub != "status" && r.sub != "scale" {
			// Logs, exec, eviction, ...: what a kubelet or another part
			// of the apiserver answers.
			return nil, &apierrors.StatusError{ErrStatus: metav1.Status{
				Status: metav1.StatusFailure, Code: http.StatusMethodNotAllowed, Reason: metav1.StatusReasonMethodNotAllowed,
				Message: fmt.Sprintf("the fake cluster does not serve %s/%s (it keeps objects; it has no kubelet or controllers)", res.gvr.Resource, r.sub),
				Details: &metav1.StatusDetails{Name: r.name, Kind: res.gvr.Resource},
			}}
		}
	}
	if !res.namespaced && r.namespace != "" {
		return nil, notFoundPath()
	}
	return r, nil
}

func notFoundPath() *apierrors.StatusError {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Message: "the server could not find the requested resource",
		Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound, Details: &metav1.StatusDetails{}}}
}

// ServeHTTP serves the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/version":
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, serverVersion)
		return
	case r.Method == http.MethodGet && s.serveDiscovery(w, r):
		return
	}
	s.mu.Lock()
	req, err := s.parse(r.URL.Path)
	s.mu.Unlock()
	if err != nil {
		writeStatus(w, err)
		return
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && req.name == "" && (q.Get("watch") == "true" || q.Get("watch") == "1"):
		s.watch(w, r, req)
	case r.Method == http.MethodGet && req.name == "":
		s.answer(w, http.StatusOK)(s.list(req, q))
	case r.Method == http.MethodGet:
		s.answer(w, http.StatusOK)(s.get(req))
	case r.Method == http.MethodPost && req.name == "":
		s.withBody(w, r, func(body []byte) (any, error) { return s.create(req, q, body, userAgent(r)) }, http.StatusCreated)
	case r.Method == http.MethodPut && req.name != "":
		s.withBody(w, r, func(body []byte) (any, error) { return s.update(req, q, body, userAgent(r)) }, http.StatusOK)
	case r.Method == http.MethodPatch && req.name != "":
		s.withBody(w, r, func(body []byte) (any, error) {
			return s.patch(req, q, r.Header.Get("Content-Type"), body, userAgent(r))
		}, http.StatusOK)
	case r.Method == http.MethodDelete && req.name != "":
		s.withBody(w, r, func(body []byte) (any, error) { return s.delete(req, q, body) }, http.StatusOK)
	case r.Method == http.MethodDelete:
		s.withBody(w, r, func(body []byte) (any, error) { return s.deleteCollection(req, q, body) }, http.StatusOK)
	default:
		writeStatus(w, apierrors.NewMethodNotSupported(req.res.gvr.GroupResource(), strings.ToLower(r.Method)))
	}
}

func (s *Server) serveDiscovery(w http.ResponseWriter, r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disc.serve(w, r)
}

// userAgent is the field manager the apiserver derives from a request
// without ?fieldManager=: its User-Agent up to the first "/".
func userAgent(r *http.Request) string {
	ua, _, _ := strings.Cut(r.Header.Get("User-Agent"), "/")
	if ua == "" {
		ua = "unknown"
	}
	return ua
}

func (s *Server) answer(w http.ResponseWriter, code int) func(any, error) {
	return func(v any, err error) {
		if err != nil {
			writeStatus(w, err)
			return
		}
		writeJSON(w, code, v)
	}
}

func (s *Server) withBody(w http.ResponseWriter, r *http.Request, fn func([]byte) (any, error), code int) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeStatus(w, apierrors.NewBadRequest(err.Error()))
		return
	}
	v, err := fn(body)
	if err == nil {
		if u, ok := v.(*created); ok {
			v, code = u.obj, http.StatusCreated
		}
	}
	s.answer(w, code)(v, err)
}

// created marks the answer of an apply or an update that created the
// object: 201, as the apiserver answers.
type created struct{ obj *unstructured.Unstructured }

func writeJSON(w http.ResponseWriter, code int, v any) {
	writeJSONType(w, "application/json", v, code)
}

func writeJSONType(w http.ResponseWriter, contentType string, v any, code ...int) {
	body, err := json.Marshal(v)
	if err != nil {
		writeStatus(w, apierrors.NewInternalError(err))
		return
	}
	w.Header().Set("Content-Type", contentType)
	if len(code) > 0 {
		w.WriteHeader(code[0])
	}
	w.Write(body)
}

func writeStatus(w http.ResponseWriter, err error) {
	status := apierrors.APIStatus(nil)
	if se, ok := err.(apierrors.APIStatus); ok {
		status = se
	} else {
		status = apierrors.NewInternalError(err)
	}
	st := status.Status()
	st.Kind, st.APIVersion = "Status", "v1"
	if st.Code == 0 {
		st.Code = http.StatusInternalServerError
	}
	body, _ := json.Marshal(st)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(int(st.Code))
	w.Write(body)
}

// dryRun tells a request that asks for a dry run (?dryRun=All).
func dryRun(q map[string][]string) bool {
	for _, v := range q["dryRun"] {
		if v == "All" {
			return true
		}
	}
	return false
}

func gr(res *resource) schema.GroupResource { return res.gvr.GroupResource() }

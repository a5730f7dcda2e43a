package kube

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// Informers is the shared informer cache of one Client: one list+watch per
// resource, namespace and label selector (client-go's dynamic informer and
// its tools/cache store), shared by every controller of the session and by
// the lookups of k8s.cached, which cost no request once it has synced.
//
// Objects are kept without their managedFields (a transform drops them as
// they arrive): the field managers' bookkeeping is most of a small
// object's size and nothing a controller reads.
type Informers struct {
	c      *Client
	mu     sync.Mutex
	m      map[informerKey]*Informer
	ctx    context.Context
	cancel context.CancelFunc
}

type informerKey struct {
	gvr     schema.GroupVersionResource
	ns, sel string
}

// informerSets holds the Informers of each Client (made on first use).
var informerSets = struct {
	sync.Mutex
	m map[*Client]*Informers
}{m: map[*Client]*Informers{}}

// Informers returns the client's shared informer cache.
func (c *Client) Informers() *Informers {
	informerSets.Lock()
	defer informerSets.Unlock()
	s := informerSets.m[c]
	if s == nil {
		ctx, cancel := context.WithCancel(context.Background())
		s = &Informers{c: c, m: map[informerKey]*Informer{}, ctx: ctx, cancel: cancel}
		informerSets.m[c] = s
	}
	return s
}

// CloseInformers stops the informers of c, if it has any: their watches end
// and their caches are dropped.
func (c *Client) CloseInformers() {
	informerSets.Lock()
	s := informerSets.m[c]
	delete(informerSets.m, c)
	informerSets.Unlock()
	if s != nil {
		s.cancel()
	}
}

// Informer is one shared list+watch and its cache.
type Informer struct {
	// Resource is the resource cached; Namespace the namespace ("" for all
	// namespaces, or a cluster-scoped kind); Selector the label selector.
	Resource  Resource
	Namespace string
	Selector  string

	inf cache.SharedIndexInformer

	errMu sync.Mutex
	err   error // the last list or watch error
	fatal error // a 401 or 403 before the cache synced
}

// For returns the informer of resource r in namespace ns ("" for all
// namespaces, and for a cluster-scoped r) with label selector sel,
// starting it if it is new: its first list is then under way, and
// WaitSynced waits for it.
func (s *Informers) For(r Resource, ns, sel string) (*Informer, error) {
	if _, err := labels.Parse(sel); err != nil {
		return nil, fmt.Errorf("bad selector %q: %w", sel, err)
	}
	if !r.Namespaced {
		ns = ""
	}
	return s.forResource(r, ns, sel), nil
}

// Covering returns an informer of r without a selector that holds every
// object of namespace ns ("" for all namespaces): a running one of ns, or
// of all namespaces; else it starts one of ns.
func (s *Informers) Covering(r Resource, ns string) *Informer {
	if !r.Namespaced {
		ns = ""
	}
	s.mu.Lock()
	all, ok := s.m[informerKey{gvr: r.GVR}]
	s.mu.Unlock()
	if ok {
		return all
	}
	return s.forResource(r, ns, "")
}

func (s *Informers) forResource(r Resource, ns, sel string) *Informer {
	key := informerKey{gvr: r.GVR, ns: ns, sel: sel}
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.m[key]; ok {
		return i
	}
	i := &Informer{Resource: r, Namespace: ns, Selector: sel}
	tweak := func(o *metav1.ListOptions) { o.LabelSelector = sel }
	i.inf = dynamicinformer.NewFilteredDynamicInformer(s.c.dynamic, r.GVR, ns, 0,
		cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, tweak).Informer()
	i.inf.SetTransform(dropManagedFields)
	i.inf.SetWatchErrorHandlerWithContext(func(ctx context.Context, _ *cache.Reflector, err error) {
		i.errMu.Lock()
		defer i.errMu.Unlock()
		i.err = apiError(err, ns)
		if fatal(err) && !i.inf.HasSynced() {
			i.fatal = i.err
		}
	})
	s.m[key] = i
	go i.inf.RunWithContext(s.ctx)
	return i
}

// dropManagedFields is the informers' transform: objects are cached
// without metadata.managedFields.
func dropManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		if md, ok := u.Object["metadata"].(map[string]any); ok {
			delete(md, "managedFields")
		}
	}
	return obj, nil
}

// WaitSynced waits until the informer's cache holds what its first list
// read. A 401 or 403 ends the wait with that error; other errors (a
// server that does not answer) are retried by the informer with backoff,
// and the wait goes on until ctx ends.
func (i *Informer) WaitSynced(ctx context.Context) error {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for {
		if i.inf.HasSynced() {
			return nil
		}
		i.errMu.Lock()
		err := i.fatal
		i.errMu.Unlock()
		if err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			if err := i.LastError(); err != nil {
				return fmt.Errorf("%s: cache not synced: %w", i.Resource, err)
			}
			return ctx.Err()
		case <-t.C:
		}
	}
}

// Synced tells whether the cache holds what the first list read.
func (i *Informer) Synced() bool { return i.inf.HasSynced() }

// LastError is the last list or watch error the informer met, nil if none.
func (i *Informer) LastError() error {
	i.errMu.Lock()
	defer i.errMu.Unlock()
	return i.err
}

// Key is the cache key of an object: "namespace/name", or "name" for a
// cluster-scoped one.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

// Get returns a copy of the cached object of key (Key), and whether there
// is one. The copy is the caller's.
func (i *Informer) Get(key string) (*unstructured.Unstructured, bool) {
	obj, ok, err := i.inf.GetStore().GetByKey(key)
	if err != nil || !ok {
		return nil, false
	}
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	return u.DeepCopy(), true
}

// List returns copies of the cached objects of namespace ns ("" for all
// that the informer holds) that sel selects (nil for all), sorted by
// namespace and name.
func (i *Informer) List(ns string, sel labels.Selector) []*unstructured.Unstructured {
	var objs []any
	if ns != "" && i.Resource.Namespaced {
		objs, _ = i.inf.GetIndexer().ByIndex(cache.NamespaceIndex, ns)
	} else {
		objs = i.inf.GetStore().List()
	}
	out := make([]*unstructured.Unstructured, 0, len(objs))
	for _, o := range objs {
		u, ok := o.(*unstructured.Unstructured)
		if !ok || (sel != nil && !sel.Matches(labels.Set(u.GetLabels()))) {
			continue
		}
		out = append(out, u.DeepCopy())
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].GetNamespace() != out[b].GetNamespace() {
			return out[a].GetNamespace() < out[b].GetNamespace()
		}
		return out[a].GetName() < out[b].GetName()
	})
	return out
}

// Keys returns the keys of every cached object.
func (i *Informer) Keys() []string { return i.inf.GetStore().ListKeys() }

// Len is how many objects the cache holds.
func (i *Informer) Len() int { return len(i.inf.GetStore().ListKeys()) }

// OnChange calls fn for every object the informer adds, changes or
// deletes: on a change, with the object before and after (fn is called
// twice); on a deletion, with its last known state. Objects that exist
// when fn is added are delivered to it as additions. fn must not change
// the objects. The returned func removes fn.
func (i *Informer) OnChange(fn func(obj *unstructured.Unstructured)) (remove func(), err error) {
	call := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if u, ok := obj.(*unstructured.Unstructured); ok {
			fn(u)
		}
	}
	reg, err := i.inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    call,
		UpdateFunc: func(old, new any) { call(old); call(new) },
		DeleteFunc: call,
	})
	if err != nil {
		return nil, err
	}
	return func() { _ = i.inf.RemoveEventHandler(reg) }, nil
}

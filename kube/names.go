package kube

import (
	"context"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
)

// nameTTL is how long cached names are served before a background refresh.
const nameTTL = 10 * time.Second

// NameCache serves the names of the objects of a kind in a namespace for
// completion. Names come from metadata-only lists (PartialObjectMetadata: a
// fraction of the bytes of whole objects), are cached per kind and
// namespace, served from the cache at once and refreshed in the background
// when older than nameTTL. Only the first request for a kind and namespace
// waits for the server. A list the user may not make (Forbidden) gives no
// names.
type NameCache struct {
	c *Client

	mu      sync.Mutex
	meta    metadata.Interface
	entries map[nameKey]*nameEntry
}

type nameKey struct{ resource, namespace string }

type nameEntry struct {
	ready   chan struct{} // closed once the first fetch is done
	names   []string
	fetched time.Time
	busy    bool
}

// NewNameCache returns a cache of the names c can list.
func NewNameCache(c *Client) *NameCache {
	return &NameCache{c: c, entries: map[nameKey]*nameEntry{}}
}

// Names returns the sorted names of the objects of kind in namespace (""
// for the client's default; ignored for cluster-scoped kinds).
func (nc *NameCache) Names(ctx context.Context, kind, namespace string) []string {
	r, err := nc.c.Resolve(kind)
	if err != nil {
		return nil
	}
	mc, err := nc.metadataClient()
	if err != nil {
		return nil
	}
	key := nameKey{r.String(), nc.c.namespaceFor(r, namespace)}
	nc.mu.Lock()
	e, ok := nc.entries[key]
	if !ok {
		e = &nameEntry{ready: make(chan struct{}), busy: true}
		nc.entries[key] = e
		go nc.fetch(mc, r, key, e)
	} else if !e.busy && time.Since(e.fetched) > nameTTL {
		e.busy = true
		go nc.fetch(mc, r, key, e)
	}
	nc.mu.Unlock()
	select {
	case <-e.ready:
	case <-ctx.Done():
		return nil
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	return e.names
}

func (nc *NameCache) metadataClient() (metadata.Interface, error) {
	if err := nc.c.init(); err != nil {
		return nil, err
	}
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.meta == nil {
		m, err := metadata.NewForConfig(nc.c.config)
		if err != nil {
			return nil, err
		}
		nc.meta = m
	}
	return nc.meta, nil
}

func (nc *NameCache) fetch(mc metadata.Interface, r Resource, key nameKey, e *nameEntry) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var names []string
	ri := mc.Resource(r.GVR)
	var lister interface {
		List(context.Context, metav1.ListOptions) (*metav1.PartialObjectMetadataList, error)
	} = ri
	if key.namespace != "" {
		lister = ri.Namespace(key.namespace)
	}
	opts := metav1.ListOptions{Limit: PageSize}
	ok := true
	for {
		l, err := lister.List(ctx, opts)
		if err != nil {
			// Forbidden and the like: nothing to complete. Other failures
			// keep what was known.
			ok = apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)
			names = nil
			break
		}
		for _, it := range l.Items {
			names = append(names, it.Name)
		}
		if opts.Continue = l.Continue; opts.Continue == "" {
			break
		}
	}
	sort.Strings(names)
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if ok || e.fetched.IsZero() {
		e.names = names
	}
	e.fetched, e.busy = time.Now(), false
	select {
	case <-e.ready:
	default:
		close(e.ready)
	}
}

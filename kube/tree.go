package kube

import (
	"context"
	"strings"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
)

// NamespaceObjects reads every object of namespace ns ("" for the
// context's) that could be owned by another: one list for each namespaced
// kind the server serves with the list verb (its preferred version), as
// kubectl-tree lists them, events left out (and v1 Endpoints, deprecated
// for EndpointSlices, whose list draws a warning). The lists run in parallel,
// eight at a time; a kind the user may not list is skipped.
func (c *Client) NamespaceObjects(ctx context.Context, ns string) ([]unstructured.Unstructured, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	if ns == "" {
		ns = c.namespace
	}
	lists, err := c.discovery.ServerPreferredNamespacedResources()
	if err != nil && len(lists) == 0 {
		return nil, apiError(err, "")
	}
	var gvrs []schema.GroupVersionResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !sets.New(r.Verbs...).Has("list") || r.Name == "events" || (gv.Group == "" && r.Name == "endpoints") {
				continue
			}
			gvrs = append(gvrs, gv.WithResource(r.Name))
		}
	}
	var (
		mu   sync.Mutex
		out  []unstructured.Unstructured
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, 8)
	)
	for _, gvr := range gvrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			l, err := c.dynamic.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !isForbiddenOrGone(err) {
					errs = append(errs, apiError(err, ns))
				}
				return
			}
			out = append(out, l.Items...)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return out, nil
}

// Owner reads the object ref names in namespace ns (a cluster-scoped
// owner has none).
func (c *Client) Owner(ctx context.Context, ref metav1.OwnerReference, ns string) (*unstructured.Unstructured, error) {
	gv, err := schema.ParseGroupVersion(ref.APIVersion)
	if err != nil {
		return nil, err
	}
	kind := ref.Kind
	if gv.Group != "" {
		kind += "." + gv.Version + "." + gv.Group
	}
	return c.Get(ctx, kind, ref.Name, ns)
}

// isForbiddenOrGone tells whether a list of a kind failed because the user
// may not list it, or because it is no longer served (a CRD deleted since
// discovery): NamespaceObjects skips that kind.
func isForbiddenOrGone(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err)
}

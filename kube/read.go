package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

// PageSize is how many objects one list request asks for.
const PageSize = 500

// ListOptions select the objects of one kind.
type ListOptions struct {
	// Namespace to list in; "" means the context's default namespace.
	Namespace string
	// AllNamespaces lists across every namespace.
	AllNamespaces bool
	// LabelSelector and FieldSelector, in the API's string syntax.
	LabelSelector, FieldSelector string
	// Limit caps how many objects are returned; 0 means all.
	Limit int64
}

// namespaceFor returns the namespace a request for r goes to: none for a
// cluster-scoped kind, ns if given, else the context's default.
func (c *Client) namespaceFor(r Resource, ns string) string {
	if !r.Namespaced {
		return ""
	}
	if ns == "" {
		return c.namespace
	}
	return ns
}

func (c *Client) resourceClient(r Resource, ns string) dynamic.ResourceInterface {
	nri := c.dynamic.Resource(r.GVR)
	if ns == "" {
		return nri
	}
	return nri.Namespace(ns)
}

// Get reads one object of kind by name.
func (c *Client) Get(ctx context.Context, kind, name, namespace string) (*unstructured.Unstructured, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, namespace)
	obj, err := c.resourceClient(r, ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, apiError(err, ns)
	}
	return obj, nil
}

// List reads every object of kind that opts select, page by page.
func (c *Client) List(ctx context.Context, kind string, opts ListOptions) (*unstructured.UnstructuredList, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := ""
	if !opts.AllNamespaces {
		ns = c.namespaceFor(r, opts.Namespace)
	}
	rc := c.resourceClient(r, ns)
	out := &unstructured.UnstructuredList{}
	lo := metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector}
	for {
		lo.Limit = PageSize
		if opts.Limit > 0 && opts.Limit-int64(len(out.Items)) < PageSize {
			lo.Limit = opts.Limit - int64(len(out.Items))
		}
		page, err := rc.List(ctx, lo)
		if err != nil {
			return nil, apiError(err, ns)
		}
		if out.Object == nil {
			out.Object = page.Object
		}
		out.Items = append(out.Items, page.Items...)
		lo.Continue = page.GetContinue()
		if lo.Continue == "" || (opts.Limit > 0 && int64(len(out.Items)) >= opts.Limit) {
			break
		}
	}
	out.SetContinue("")
	return out, nil
}

// apiError rewords an API error in kubectl's words, adding the namespace to a
// not-found so that a user who was in the wrong namespace sees it at once.
func apiError(err error, ns string) error {
	if apierrors.IsNotFound(err) && ns != "" {
		return fmt.Errorf("%w in namespace %q", err, ns)
	}
	return err
}

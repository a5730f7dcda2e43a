package kube

import (
	"context"
	"fmt"
	"strings"

	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// checkSegments refuses a namespace or name that is not one segment of a
// URL path ("x/../kube-system", "..", "a%2Fb"), as kube-apiserver refuses
// such names: joined into the request's path they would name another
// object or collection. Every request k8sh builds from a namespace or a
// name goes through it (resourcePath's callers and the dynamic clients of
// resourceClient and writeClient), before anything is sent.
func checkSegments(ns, name string) error {
	if ns != "" {
		if msgs := pathvalidation.IsValidPathSegmentName(ns); len(msgs) > 0 {
			return fmt.Errorf("invalid namespace %q: %s", ns, strings.Join(msgs, ", "))
		}
	}
	if name != "" {
		if msgs := pathvalidation.IsValidPathSegmentName(name); len(msgs) > 0 {
			return fmt.Errorf("invalid name %q: %s", name, strings.Join(msgs, ", "))
		}
	}
	return nil
}

// checkedResource is a dynamic resource client that refuses names and a
// namespace checkSegments refuses.
type checkedResource struct {
	ri dynamic.ResourceInterface
	ns string
}

func checked(nri dynamic.NamespaceableResourceInterface, ns string) dynamic.ResourceInterface {
	if ns == "" {
		return checkedResource{ri: nri}
	}
	return checkedResource{ri: nri.Namespace(ns), ns: ns}
}

func (c checkedResource) check(name string) error { return checkSegments(c.ns, name) }

// named checks the name of obj (one it has; a create with generateName has none).
func (c checkedResource) named(obj *unstructured.Unstructured) error {
	if obj == nil {
		return c.check("")
	}
	return c.check(obj.GetName())
}

func (c checkedResource) Create(ctx context.Context, obj *unstructured.Unstructured, o metav1.CreateOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := c.named(obj); err != nil {
		return nil, err
	}
	return c.ri.Create(ctx, obj, o, sub...)
}

func (c checkedResource) Update(ctx context.Context, obj *unstructured.Unstructured, o metav1.UpdateOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := c.named(obj); err != nil {
		return nil, err
	}
	return c.ri.Update(ctx, obj, o, sub...)
}

func (c checkedResource) UpdateStatus(ctx context.Context, obj *unstructured.Unstructured, o metav1.UpdateOptions) (*unstructured.Unstructured, error) {
	if err := c.named(obj); err != nil {
		return nil, err
	}
	return c.ri.UpdateStatus(ctx, obj, o)
}

func (c checkedResource) Delete(ctx context.Context, name string, o metav1.DeleteOptions, sub ...string) error {
	if err := c.check(name); err != nil {
		return err
	}
	return c.ri.Delete(ctx, name, o, sub...)
}

func (c checkedResource) DeleteCollection(ctx context.Context, o metav1.DeleteOptions, lo metav1.ListOptions) error {
	if err := c.check(""); err != nil {
		return err
	}
	return c.ri.DeleteCollection(ctx, o, lo)
}

func (c checkedResource) Get(ctx context.Context, name string, o metav1.GetOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.ri.Get(ctx, name, o, sub...)
}

func (c checkedResource) List(ctx context.Context, o metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	if err := c.check(""); err != nil {
		return nil, err
	}
	return c.ri.List(ctx, o)
}

func (c checkedResource) Watch(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
	if err := c.check(""); err != nil {
		return nil, err
	}
	return c.ri.Watch(ctx, o)
}

func (c checkedResource) Patch(ctx context.Context, name string, pt types.PatchType, data []byte, o metav1.PatchOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.ri.Patch(ctx, name, pt, data, o, sub...)
}

func (c checkedResource) Apply(ctx context.Context, name string, obj *unstructured.Unstructured, o metav1.ApplyOptions, sub ...string) (*unstructured.Unstructured, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.ri.Apply(ctx, name, obj, o, sub...)
}

func (c checkedResource) ApplyStatus(ctx context.Context, name string, obj *unstructured.Unstructured, o metav1.ApplyOptions) (*unstructured.Unstructured, error) {
	if err := c.check(name); err != nil {
		return nil, err
	}
	return c.ri.ApplyStatus(ctx, name, obj, o)
}

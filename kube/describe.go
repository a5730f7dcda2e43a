package kube

import (
	"context"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/kubectl/pkg/describe"
)

// DescribeOptions choose what Describe describes beside the kind: one name,
// or every object a selector (or none) selects.
type DescribeOptions struct {
	ListOptions
	// Name is the object's name, or a prefix of names when no object has
	// it (kubectl describe pod web describes web-1 and web-2).
	Name string
	// ShowEvents is kubectl's --show-events; nil is kubectl's default: the
	// events for one object, none for several or for a prefix match.
	ShowEvents *bool
}

// Describe returns the text kubectl describe prints for the objects of kind
// that opts select, made by kubectl's own describers
// (k8s.io/kubectl/pkg/describe: the one for the kind, else the generic one
// that CRDs get), separated as kubectl separates them. It is "" when
// nothing matches (kubectl then says "No resources found" on stderr).
func (c *Client) Describe(ctx context.Context, kind string, opts DescribeOptions) (string, error) {
	kinds, err := c.Kinds(kind)
	if err != nil {
		return "", err
	}
	if opts.Name != "" && len(kinds) > 1 {
		return "", fmt.Errorf("a name (%q) with several kinds (%q): describe one kind", opts.Name, kind)
	}
	var (
		targets []describeTarget
		prefix  bool
	)
	for _, k := range kinds {
		ts, p, err := c.describeTargets(ctx, k, opts)
		if err != nil {
			return "", err
		}
		targets, prefix = append(targets, ts...), p
	}
	settings := describe.DescriberSettings{ShowEvents: true, ChunkSize: PageSize}
	switch {
	case opts.ShowEvents != nil:
		settings.ShowEvents = *opts.ShowEvents
	case prefix || len(targets) > 1:
		settings.ShowEvents = false
	}
	var (
		b    strings.Builder
		errs []error
		seen = map[string]bool{}
	)
	for _, t := range targets {
		s, err := t.describer.Describe(t.ns, t.name, settings)
		if err != nil {
			if !seen[err.Error()] {
				seen[err.Error()] = true
				errs = append(errs, apiError(err, t.ns))
			}
			continue
		}
		switch {
		case prefix:
			b.WriteString(s + "\n")
		case b.Len() > 0:
			b.WriteString("\n\n" + s)
		default:
			b.WriteString(s)
		}
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	return b.String(), utilerrors.NewAggregate(errs)
}

// describeTarget is one object to describe, with the describer of its kind.
type describeTarget struct {
	describer describe.ResourceDescriber
	ns, name  string
}

// describeTargets returns the objects of one kind that opts select, and
// whether they are the prefix match of a name no object has.
func (c *Client) describeTargets(ctx context.Context, kind string, opts DescribeOptions) ([]describeTarget, bool, error) {
	r, ns, err := c.collection(kind, opts.ListOptions)
	if err != nil {
		return nil, false, err
	}
	mapping, err := c.mapper.RESTMapping(r.GVK.GroupKind(), r.GVK.Version)
	if err != nil {
		return nil, false, apiError(err, "")
	}
	describer, ok := describe.DescriberFor(r.GVK.GroupKind(), c.config)
	if !ok {
		if describer, ok = describe.GenericDescriberFor(mapping, c.config); !ok {
			return nil, false, fmt.Errorf("no description has been implemented for %s", r.GVK)
		}
	}
	var targets []describeTarget
	if opts.Name != "" {
		_, err := c.resourceClient(r, ns).Get(ctx, opts.Name, metav1.GetOptions{})
		if err == nil {
			return []describeTarget{{describer, ns, opts.Name}}, false, nil
		}
		if !apierrors.IsNotFound(err) || opts.AllNamespaces {
			return nil, false, c.missingNamespace(ctx, err, ns)
		}
		// kubectl's DescribeMatchingResources: the names that start with
		// it, else the not-found error.
		l, lerr := c.List(ctx, kind, ListOptions{Namespace: opts.Namespace})
		if lerr != nil {
			return nil, false, lerr
		}
		for _, o := range l.Items {
			if strings.HasPrefix(o.GetName(), opts.Name) {
				targets = append(targets, describeTarget{describer, o.GetNamespace(), o.GetName()})
			}
		}
		if len(targets) == 0 {
			return nil, false, c.missingNamespace(ctx, err, ns)
		}
		return targets, true, nil
	}
	l, err := c.List(ctx, kind, opts.ListOptions)
	if err != nil {
		return nil, false, err
	}
	for _, o := range l.Items {
		targets = append(targets, describeTarget{describer, o.GetNamespace(), o.GetName()})
	}
	return targets, false, nil
}

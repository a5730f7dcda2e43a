package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ResourceInfo is one row of `kubectl api-resources`.
type ResourceInfo struct {
	Name       string
	Singular   string
	ShortNames []string
	Kind       string
	Group      string
	Version    string
	Namespaced bool
	Verbs      []string
}

// Resources lists the resources the cluster serves, at their preferred
// version, sorted by group then name, as kubectl api-resources shows them.
func (c *Client) Resources() ([]ResourceInfo, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil && len(lists) == 0 {
		return nil, err
	}
	var out []ResourceInfo
	for _, l := range lists {
		gv, _ := schema.ParseGroupVersion(l.GroupVersion)
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue // a subresource
			}
			out = append(out, ResourceInfo{
				Name: r.Name, Singular: r.SingularName, ShortNames: r.ShortNames, Kind: r.Kind,
				Group: gv.Group, Version: gv.Version, Namespaced: r.Namespaced,
				Verbs: r.Verbs,
			})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Group != out[j].Group {
			return out[i].Group < out[j].Group
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Events lists the Events about the object of kind called name, oldest first.
func (c *Client) Events(ctx context.Context, kind, name, namespace string) ([]unstructured.Unstructured, error) {
	r, err := c.Resolve(kind)
	if err != nil {
		return nil, err
	}
	ns := c.namespaceFor(r, namespace)
	fields := fmt.Sprintf("involvedObject.kind=%s,involvedObject.name=%s", r.GVK.Kind, name)
	opts := ListOptions{Namespace: ns, FieldSelector: fields}
	if ns == "" {
		// Events about cluster-scoped objects live in "default" or in any
		// namespace, depending on who recorded them.
		opts.AllNamespaces = true
	}
	list, err := c.List(ctx, "events", opts)
	if err != nil {
		return nil, err
	}
	items := list.Items
	sort.SliceStable(items, func(i, j int) bool {
		return eventTime(items[i]) < eventTime(items[j])
	})
	return items, nil
}

// eventTime is when an Event last happened, as an RFC 3339 string: such
// strings of one format sort by time.
func eventTime(e unstructured.Unstructured) string {
	for _, f := range []string{"lastTimestamp", "eventTime", "firstTimestamp"} {
		if s, ok, _ := unstructured.NestedString(e.Object, f); ok && s != "" {
			return normalizeTime(s)
		}
	}
	return normalizeTime(e.GetCreationTimestamp().UTC().Format("2006-01-02T15:04:05Z"))
}

// normalizeTime pads an RFC 3339 UTC time to microseconds, so that
// "…05Z" and "…05.123456Z" compare in time order as strings.
func normalizeTime(s string) string {
	if strings.HasSuffix(s, "Z") && !strings.Contains(s, ".") {
		return strings.TrimSuffix(s, "Z") + ".000000Z"
	}
	return s
}

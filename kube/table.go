package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// tableAccept asks the server for the Table that kubectl get prints: the
// kind's own columns (a Deployment's READY, UP-TO-DATE, ...; a CRD's printer
// columns), with the plain list as a fallback for servers without tables.
const tableAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

// Table reads the objects of kind that opts select as the server's Table,
// with each row's object metadata (includeObject=Metadata) so that rows can
// be matched to objects. Like List, it reads page by page.
func (c *Client) Table(ctx context.Context, kind string, opts ListOptions) (*metav1.Table, error) {
	r, ns, err := c.collection(kind, opts)
	if err != nil {
		return nil, err
	}
	rc, err := c.rawClient()
	if err != nil {
		return nil, err
	}
	p := resourcePath(r, ns)

	out := &metav1.Table{}
	cont := ""
	for {
		req := rc.Get().AbsPath(p).
			SetHeader("Accept", tableAccept).
			Param("includeObject", "Metadata").
			Param("limit", strconv.Itoa(PageSize))
		if opts.LabelSelector != "" {
			req = req.Param("labelSelector", opts.LabelSelector)
		}
		if opts.FieldSelector != "" {
			req = req.Param("fieldSelector", opts.FieldSelector)
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		res := req.Do(ctx)
		raw, err := res.Raw()
		if err != nil {
			return nil, apiError(res.Error(), ns)
		}
		var page metav1.Table
		if err := json.Unmarshal(raw, &page); err != nil {
			return nil, fmt.Errorf("decoding table: %w", err)
		}
		if page.Kind != "Table" {
			return nil, fmt.Errorf("the server returned %q, not a Table", page.Kind)
		}
		if out.ColumnDefinitions == nil {
			out.ColumnDefinitions = page.ColumnDefinitions
		}
		out.Rows = append(out.Rows, page.Rows...)
		cont = page.Continue
		if cont == "" {
			return out, nil
		}
	}
}

// resourcePath is the URL path of the collection of r in namespace ns
// ("" for all namespaces or a cluster-scoped kind).
func resourcePath(r Resource, ns string) string {
	p := "/api"
	if r.GVR.Group != "" {
		p = path.Join("/apis", r.GVR.Group)
	}
	p = path.Join(p, r.GVR.Version)
	if ns != "" {
		p = path.Join(p, "namespaces", ns)
	}
	return path.Join(p, r.GVR.Resource)
}

// rawClient is a REST client of this cluster for requests whose bodies k8sh
// decodes itself: list pages and tables.
func (c *Client) rawClient() (*rest.RESTClient, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	c.rawOnce.Do(func() {
		cfg := rest.CopyConfig(c.config)
		// Only metav1.Status (for errors) is decoded through a scheme: a
		// small one spares registering every API type at start-up, as
		// client-go's kubernetes/scheme would.
		s := runtime.NewScheme()
		metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
		cfg.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
		cfg.ContentType = "application/json"
		c.raw, c.rawErr = rest.UnversionedRESTClientFor(cfg)
	})
	return c.raw, c.rawErr
}

package kube

import (
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

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

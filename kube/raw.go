package kube

import (
	"context"
	"encoding/json"
	"path"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
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
	if err := c.initRaw(); err != nil {
		return nil, err
	}
	return c.raw, nil
}

// bulkRawClient is rawClient without the client-side rate limit, for the
// requests of bulk operations (see Client.bulk).
func (c *Client) bulkRawClient() (*rest.RESTClient, error) {
	if err := c.initRaw(); err != nil {
		return nil, err
	}
	return c.bulkRaw, nil
}

// doRaw sends req and returns the body of its answer; an error answer is
// the server's Status (rest.Result.Raw's own error says only the HTTP
// status's generic words: "the server rejected our request due to an
// error in our request").
func doRaw(ctx context.Context, req *rest.Request) ([]byte, error) {
	res := req.Do(ctx)
	raw, err := res.Raw()
	if err != nil {
		return raw, res.Error()
	}
	return raw, nil
}

func (c *Client) initRaw() error {
	if err := c.init(); err != nil {
		return err
	}
	c.rawOnce.Do(func() {
		// Only metav1.Status (for errors) is decoded through a scheme: a
		// small one spares registering every API type at start-up, as
		// client-go's kubernetes/scheme would.
		s := runtime.NewScheme()
		metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
		codecs := serializer.NewCodecFactory(s).WithoutConversion()
		for _, rc := range []struct {
			client **rest.RESTClient
			limit  bool
		}{{&c.raw, true}, {&c.bulkRaw, false}} {
			cfg := rest.CopyConfig(c.config)
			if !rc.limit {
				cfg.QPS, cfg.Burst, cfg.RateLimiter = -1, 0, nil
			}
			cfg.NegotiatedSerializer = codecs
			cfg.ContentType = "application/json"
			if *rc.client, c.rawErr = rest.UnversionedRESTClientFor(cfg); c.rawErr != nil {
				return
			}
		}
	})
	return c.rawErr
}

// deleteObject deletes the object of r called name in ns and returns the
// UID of what the server deleted, read from its answer (the object, or a
// Status whose details name it), as kubectl delete keeps it: a wait for
// that object then ends when a successor of the same name appears (a
// controller that server-side applies it again, as the ClusterRole
// aggregation controller does), instead of waiting for the successor.
func (c *Client) deleteObject(ctx context.Context, r Resource, ns, name string, do metav1.DeleteOptions) (types.UID, error) {
	if err := checkSegments(ns, name); err != nil {
		return "", err
	}
	rc, err := c.bulkRawClient()
	if err != nil {
		return "", err
	}
	do.TypeMeta = metav1.TypeMeta{APIVersion: "v1", Kind: "DeleteOptions"}
	body, err := json.Marshal(&do)
	if err != nil {
		return "", err
	}
	raw, err := doRaw(ctx, rc.Delete().AbsPath(resourcePath(r, ns), name).Body(body))
	if err != nil {
		return "", err
	}
	var answer struct {
		Metadata struct {
			UID types.UID `json:"uid"`
		} `json:"metadata"`
		Details struct {
			UID types.UID `json:"uid"`
		} `json:"details"`
	}
	if json.Unmarshal(raw, &answer) != nil {
		return "", nil // deleted; which one is not said
	}
	if answer.Metadata.UID != "" {
		return answer.Metadata.UID, nil
	}
	return answer.Details.UID, nil
}

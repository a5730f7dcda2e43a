package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// apiClient is a minimal bearer-token HTTPS client for the sandbox apiserver.
type apiClient struct {
	server string
	token  string
	hc     *http.Client
}

func newAPIClient(server string, caPEM []byte, token string) (*apiClient, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("cannot parse CA certificate")
	}
	tr := &http.Transport{
		Proxy:               nil,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 5 * time.Second,
		DisableKeepAlives:   false,
	}
	return &apiClient{server: server, token: token, hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}}, nil
}

// do performs a request and returns the status code and body.
func (c *apiClient) do(method, path string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.server+path, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "k8sh-sandbox")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, b, err
}

func (c *apiClient) ready() bool {
	code, _, err := c.do("GET", "/readyz", nil)
	return err == nil && code == http.StatusOK
}

// create POSTs obj; 201/200 and 409 AlreadyExists count as success.
func (c *apiClient) create(path string, obj any) error {
	code, body, err := c.do("POST", path, obj)
	if err != nil {
		return err
	}
	switch code {
	case http.StatusOK, http.StatusCreated, http.StatusAccepted, http.StatusConflict:
		return nil
	}
	return fmt.Errorf("POST %s: HTTP %d: %s", path, code, bytes.TrimSpace(body))
}

// get fetches path into out; found is false on 404.
func (c *apiClient) get(path string, out any) (found bool, err error) {
	code, body, err := c.do("GET", path, nil)
	if err != nil {
		return false, err
	}
	if code == http.StatusNotFound {
		return false, nil
	}
	if code != http.StatusOK {
		return false, fmt.Errorf("GET %s: HTTP %d: %s", path, code, bytes.TrimSpace(body))
	}
	if out != nil {
		return true, json.Unmarshal(body, out)
	}
	return true, nil
}

const (
	nodeName = "kwok-node-0"
	// node1Name is the second node, so that a drain has somewhere to move
	// Pods to. It has a kwok (its "kubelet") of its own, as nodes have in
	// a real cluster: see the kwok-1 component.
	node1Name = "kwok-node-1"
	// node1PodCIDR is where node1Name's Pods get their addresses
	// (kwok-node-0's: podCIDR).
	node1PodCIDR = "127.3.0.0/16"
)

// sandboxObject is an object the sandbox creates in its cluster.
type sandboxObject struct {
	path string // the collection to POST to
	obj  map[string]any
}

// sandboxObjects are the objects every start makes sure exist: the viewer's
// binding, the two kwok nodes, and metrics-server's Service and APIService. The
// Service is an ExternalName one naming 127.0.0.1, the address
// metrics-server listens on (it runs as a process of the sandbox, not as a
// Pod), so that kube-apiserver dials it there, through the egress guard.
func (e *env) sandboxObjects(p *pki, metricsPort int) []sandboxObject {
	return []sandboxObject{
		{"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", viewerBinding()},
		{"/api/v1/nodes", kwokNode(nodeName, "")},
		{"/api/v1/nodes", kwokNode(node1Name, node1PodCIDR)},
		{"/api/v1/namespaces/kube-system/services", map[string]any{
			"apiVersion": "v1",
			"kind":       "Service",
			"metadata": map[string]any{
				"name":      "metrics-server",
				"namespace": "kube-system",
				"labels":    map[string]string{"k8s-app": "metrics-server"},
			},
			"spec": map[string]any{
				"type":         "ExternalName",
				"externalName": "127.0.0.1",
				"ports":        []map[string]any{{"name": "https", "port": metricsPort, "protocol": "TCP"}},
			},
		}},
		{"/apis/apiregistration.k8s.io/v1/apiservices", map[string]any{
			"apiVersion": "apiregistration.k8s.io/v1",
			"kind":       "APIService",
			"metadata": map[string]any{
				"name":   "v1beta1.metrics.k8s.io",
				"labels": map[string]string{"k8s-app": "metrics-server"},
			},
			"spec": map[string]any{
				"service":              map[string]any{"name": "metrics-server", "namespace": "kube-system", "port": metricsPort},
				"group":                "metrics.k8s.io",
				"version":              "v1beta1",
				"caBundle":             p.caPEM,
				"groupPriorityMinimum": 100,
				"versionPriority":      100,
			},
		}},
	}
}

// kwokNode is the Node called name. kwok-node-0 is annotated
// kwok.x-k8s.io/node=fake, which the kwok component manages (as it does
// any node so annotated); kwok-node-1 is not, as the kwok-1 component
// manages it by name. podCIDR, when not "", gives its Pods their
// addresses (kwok's --cidr otherwise).
func kwokNode(name, podCIDR string) map[string]any {
	res := map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110"}
	meta := map[string]any{
		"name": name,
		"labels": map[string]string{
			"type":                   "kwok",
			"kubernetes.io/hostname": name,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
		},
	}
	if name == nodeName {
		meta["annotations"] = map[string]string{"kwok.x-k8s.io/node": "fake"}
	}
	spec := map[string]any{}
	if podCIDR != "" {
		spec["podCIDR"] = podCIDR
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Node",
		"metadata":   meta,
		"spec":       spec,
		"status": map[string]any{
			"allocatable": res,
			"capacity":    res,
			// Both addresses, so that kwok's node-initialize stage adds
			// none: when a node that lacks one is initialized again (after
			// it was NotReady), the stage's template writes "addresses:"
			// with no items, and the node loses the one it had.
			"addresses": []map[string]string{
				{"type": "InternalIP", "address": "127.0.0.1"},
				{"type": "Hostname", "address": name},
			},
		},
	}
}

func viewerBinding() map[string]any {
	return map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1",
		"kind":       "ClusterRoleBinding",
		"metadata":   map[string]any{"name": "sandbox-viewer"},
		"roleRef": map[string]string{
			"apiGroup": "rbac.authorization.k8s.io",
			"kind":     "ClusterRole",
			"name":     "view",
		},
		"subjects": []map[string]string{{
			"apiGroup": "rbac.authorization.k8s.io",
			"kind":     "User",
			"name":     "viewer",
		}},
	}
}

func (c *apiClient) nodeReady(name string) (bool, error) {
	var n struct {
		Status struct {
			Conditions []struct{ Type, Status string } `json:"conditions"`
		} `json:"status"`
	}
	found, err := c.get("/api/v1/nodes/"+name, &n)
	if err != nil || !found {
		return false, err
	}
	for _, cond := range n.Status.Conditions {
		if cond.Type == "Ready" {
			return cond.Status == "True", nil
		}
	}
	return false, nil
}

package kube

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/metrics/pkg/apis/metrics"
	metricsv1beta1 "k8s.io/metrics/pkg/apis/metrics/v1beta1"
	metricsclient "k8s.io/metrics/pkg/client/clientset/versioned/typed/metrics/v1beta1"
)

// ErrNoMetricsAPI is kubectl top's error when the server serves no
// metrics.k8s.io.
var ErrNoMetricsAPI = errors.New("Metrics API not available")

// metricsClient is a client of metrics.k8s.io/v1beta1 (what metrics-server
// serves), or ErrNoMetricsAPI when the server's discovery lacks it.
func (c *Client) metricsClient() (*metricsclient.MetricsV1beta1Client, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	groups, err := c.discovery.ServerGroups()
	if err != nil {
		return nil, apiError(err, "")
	}
	served := false
	for _, g := range groups.Groups {
		if g.Name == metrics.GroupName && slices.ContainsFunc(g.Versions, func(v metav1.GroupVersionForDiscovery) bool { return v.Version == "v1beta1" }) {
			served = true
		}
	}
	if !served {
		return nil, ErrNoMetricsAPI
	}
	return metricsclient.NewForConfig(c.config)
}

// TopPods reads the pods' metrics that opts select (name: that one pod),
// as kubectl top pod reads them.
func (c *Client) TopPods(ctx context.Context, name string, opts ListOptions) ([]metrics.PodMetrics, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	mc, err := c.metricsClient()
	if err != nil {
		return nil, err
	}
	ns := ""
	if !opts.AllNamespaces {
		if ns = opts.Namespace; ns == "" {
			ns = c.namespace
		}
	}
	list := &metricsv1beta1.PodMetricsList{}
	if name != "" {
		m, err := mc.PodMetricses(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, c.missingNamespace(ctx, err, ns)
		}
		list.Items = []metricsv1beta1.PodMetrics{*m}
	} else if list, err = mc.PodMetricses(ns).List(ctx, metav1.ListOptions{LabelSelector: opts.LabelSelector}); err != nil {
		return nil, c.missingNamespace(ctx, err, ns)
	}
	if len(list.Items) == 0 {
		if err := c.verifyEmptyMetrics(ctx, ns, opts); err != nil {
			return nil, err
		}
	}
	out := &metrics.PodMetricsList{}
	if err := metricsv1beta1.Convert_v1beta1_PodMetricsList_To_metrics_PodMetricsList(list, out, nil); err != nil {
		return nil, err
	}
	return out.Items, nil
}

// metricsCreationDelay is how long after its creation kubectl top expects a
// pod to have metrics (kubectl's pkg/cmd/top).
const metricsCreationDelay = 2 * time.Minute

// verifyEmptyMetrics says why no pod has metrics, as kubectl top pod says
// it: when pods exist, "metrics not available yet" (the scrape has not
// reached them), or "Metrics not available for pod ns/name, age: ..." for
// one older than metricsCreationDelay; no pods at all is no error.
func (c *Client) verifyEmptyMetrics(ctx context.Context, ns string, opts ListOptions) error {
	core, err := corev1client.NewForConfig(c.config)
	if err != nil {
		return err
	}
	pods, err := core.Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector})
	if err != nil {
		return apiError(err, ns)
	}
	if len(pods.Items) == 0 {
		return nil
	}
	for _, p := range pods.Items {
		if age := time.Since(p.CreationTimestamp.Time); age > metricsCreationDelay {
			return fmt.Errorf("Metrics not available for pod %s/%s, age: %s", p.Namespace, p.Name, age.String())
		}
	}
	return errors.New("metrics not available yet")
}

// TopNodes reads the nodes' metrics that selector selects (name: that one
// node), with each node's allocatable resources, as kubectl top node reads
// them. No metrics at all is kubectl's "metrics not available yet".
func (c *Client) TopNodes(ctx context.Context, name, selector string) ([]metrics.NodeMetrics, map[string]corev1.ResourceList, error) {
	if err := (ListOptions{LabelSelector: selector}).validate(); err != nil {
		return nil, nil, err
	}
	mc, err := c.metricsClient()
	if err != nil {
		return nil, nil, err
	}
	list := &metricsv1beta1.NodeMetricsList{}
	if name != "" {
		m, err := mc.NodeMetricses().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, apiError(err, "")
		}
		list.Items = []metricsv1beta1.NodeMetrics{*m}
	} else if list, err = mc.NodeMetricses().List(ctx, metav1.ListOptions{LabelSelector: selector}); err != nil {
		return nil, nil, apiError(err, "")
	}
	if len(list.Items) == 0 {
		return nil, nil, errors.New("metrics not available yet")
	}
	out := &metrics.NodeMetricsList{}
	if err := metricsv1beta1.Convert_v1beta1_NodeMetricsList_To_metrics_NodeMetricsList(list, out, nil); err != nil {
		return nil, nil, err
	}
	core, err := corev1client.NewForConfig(c.config)
	if err != nil {
		return nil, nil, err
	}
	var nodes []corev1.Node
	if name != "" {
		n, err := core.Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, nil, apiError(err, "")
		}
		nodes = append(nodes, *n)
	} else {
		l, err := core.Nodes().List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return nil, nil, apiError(err, "")
		}
		nodes = l.Items
	}
	avail := map[string]corev1.ResourceList{}
	for _, n := range nodes {
		avail[n.Name] = n.Status.Allocatable
	}
	return out.Items, avail, nil
}

// Package kube is the only part of k8sh that talks to the Kubernetes API.
//
// It loads kubeconfig the way kubectl does (cli-runtime's ConfigFlags:
// merged KUBECONFIG, --context, --namespace, exec plugins, in-cluster
// fallback), discovers resources through a disk cache, resolves kinds the
// way kubectl does and reads objects through the dynamic client.
package kube

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/klog/v2"
)

// Client QPS and burst. client-go's defaults (5/10) throttle any script that
// touches more than a handful of objects; kubectl raises discovery to 50/300.
const (
	clientQPS   = 50
	clientBurst = 300
)

// SilenceClientLogs stops client-go's klog lines ("Couldn't get current
// server API group list", ...) from reaching stderr: k8sh reports each
// failure once, as the error of the builtin that met it.
func SilenceClientLogs() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("alsologtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(io.Discard)
}

// NewConfigFlags returns kubectl's kubeconfig flags (--kubeconfig, --context,
// -n/--namespace, --server, --token, ...) with k8sh's client limits.
func NewConfigFlags() *genericclioptions.ConfigFlags {
	return genericclioptions.NewConfigFlags(true).
		WithDiscoveryBurst(clientBurst).
		WithDiscoveryQPS(clientQPS).
		WithWrapConfigFn(func(c *rest.Config) *rest.Config {
			c.QPS, c.Burst = clientQPS, clientBurst
			c.Wrap(WrapRetry)
			return c
		})
}

// Client talks to one cluster as one user: the context that its ConfigFlags
// select. Its parts are built on first use, so that starting k8sh, or running
// a script that never touches the cluster, sends no request.
type Client struct {
	flags *genericclioptions.ConfigFlags

	once    sync.Once
	err     error
	config  *rest.Config
	dynamic dynamic.Interface
	// bulk is a dynamic client without a client-side rate limit, for the
	// requests of bulk operations: those are bounded by their number in
	// flight (parallel=), and the token bucket (50 QPS) would otherwise turn
	// 500 applies into ten seconds of waiting. The server's API Priority
	// and Fairness still applies, and a 429 is retried by WrapRetry.
	bulk      dynamic.Interface
	discovery discovery.CachedDiscoveryInterface
	mapper    meta.ResettableRESTMapper
	namespace string
	resolved  atomic.Bool // Resolve was called before

	rawOnce sync.Once
	raw     *rest.RESTClient
	rawErr  error
}

// NewClient returns a client for the context that flags select.
func NewClient(flags *genericclioptions.ConfigFlags) *Client {
	return &Client{flags: flags}
}

func (c *Client) init() error {
	c.once.Do(func() {
		c.err = c.build()
	})
	return c.err
}

func (c *Client) build() error {
	loader := c.flags.ToRawKubeConfigLoader()
	ns, _, err := loader.Namespace()
	if err != nil {
		return configError(err)
	}
	cfg, err := c.flags.ToRESTConfig()
	if err != nil {
		return configError(err)
	}
	disco, err := c.flags.ToDiscoveryClient()
	if err != nil {
		return configError(err)
	}
	mapper, err := c.flags.ToRESTMapper()
	if err != nil {
		return configError(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return configError(err)
	}
	unlimited := rest.CopyConfig(cfg)
	unlimited.QPS, unlimited.Burst, unlimited.RateLimiter = -1, 0, nil
	bulk, err := dynamic.NewForConfig(unlimited)
	if err != nil {
		return configError(err)
	}
	rm, ok := mapper.(meta.ResettableRESTMapper)
	if !ok {
		return fmt.Errorf("internal error: REST mapper %T cannot be reset", mapper)
	}
	c.config, c.discovery, c.mapper, c.dynamic, c.bulk, c.namespace = cfg, disco, rm, dyn, bulk, ns
	return nil
}

func configError(err error) error {
	if clientcmd.IsEmptyConfig(err) {
		return fmt.Errorf("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config")
	}
	return fmt.Errorf("kubeconfig: %w", err)
}

// Namespace is the default namespace of this client's context (or of
// -n/--namespace), "default" when the context names none.
func (c *Client) Namespace() (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	return c.namespace, nil
}

// ContextInfo describes the context a client uses, as kubeconfig names it.
type ContextInfo struct {
	Name, Cluster, Server, User, Namespace string
}

// Context describes the context that this client's flags select, without
// contacting the cluster.
func (c *Client) Context() (ContextInfo, error) {
	loader := c.flags.ToRawKubeConfigLoader()
	raw, err := loader.RawConfig()
	if err != nil {
		return ContextInfo{}, configError(err)
	}
	name := raw.CurrentContext
	if c.flags.Context != nil && *c.flags.Context != "" {
		name = *c.flags.Context
	}
	info := contextInfo(&raw, name)
	if ns, _, err := loader.Namespace(); err == nil {
		info.Namespace = ns // -n, when given
	}
	return info, nil
}

// contextInfo describes context name as the kubeconfig raw has it; its
// namespace is "default" when the context names none.
func contextInfo(raw *clientcmdapi.Config, name string) ContextInfo {
	info := ContextInfo{Name: name, Namespace: "default"}
	if kctx, ok := raw.Contexts[name]; ok {
		info.Cluster, info.User = kctx.Cluster, kctx.AuthInfo
		if kctx.Namespace != "" {
			info.Namespace = kctx.Namespace
		}
		if cl, ok := raw.Clusters[kctx.Cluster]; ok {
			info.Server = cl.Server
		}
	}
	return info
}

// ServerVersion is the Kubernetes version the cluster reports (/version),
// e.g. "v1.37.2".
func (c *Client) ServerVersion(ctx context.Context) (string, error) {
	if err := c.init(); err != nil {
		return "", err
	}
	rc, err := c.rawClient()
	if err != nil {
		return "", err
	}
	var info version.Info
	body, err := rc.Get().AbsPath("/version").Do(ctx).Raw()
	if err != nil {
		return "", apiError(err, "")
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("decoding /version: %w", err)
	}
	return info.GitVersion, nil
}

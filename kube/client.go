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
	"strings"
	"sync"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/api/meta"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/version"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
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

// PrintWarnings makes every client made from flags (and from the flags of
// other contexts copied from them: dynamic, discovery and raw REST clients
// alike) print the server's warnings to w as kubectl prints them: a line
// "Warning: TEXT" for each distinct text, once per run, with "Warning:" in
// colour when w is a terminal that allows colour (client-go's
// rest.NewWarningWriter, set up as kubectl sets it). Deprecated APIs and
// admission policies with the Warn action send them. The text is the
// server's, so terminal control bytes in it are escaped as kubectl's
// printers escape them in tables (ESC prints as "^[").
func PrintWarnings(flags *genericclioptions.ConfigFlags, w io.Writer) {
	h := escapedWarnings{rest.NewWarningWriter(w, rest.WarningWriterOptions{
		Deduplicate: true,
		Color:       printers.AllowsColorOutput(w),
	})}
	prev := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.WarningHandler, c.WarningHandlerWithContext = h, nil
		if prev != nil {
			return prev(c)
		}
		return c
	}
}

// escapedWarnings hands a warning to its writer with terminal control bytes
// escaped.
type escapedWarnings struct{ w rest.WarningHandler }

func (e escapedWarnings) HandleWarningHeader(code int, agent, text string) {
	e.w.HandleWarningHeader(code, agent, printers.EscapeTerminal(text))
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

	// categories are the category expansions Kinds made ("all" to its
	// resources), kept until discovery is invalidated: an expansion reads
	// every group's resources from the discovery cache on disk, about a
	// third of the client's CPU in a list of 20 contexts at once.
	catMu      sync.Mutex
	categories map[string]categoryExpansion
	// kinds are the kinds Resolve resolved, as typed, kept as categories
	// are: client-go's short-name expander reads every group's resources
	// from the discovery cache on disk (a file each) on every lookup, most
	// of the client's CPU in a list of 20 contexts at once when they were
	// not kept.
	kinds    map[string]Resource
	discoGen uint64 // counts rediscover calls

	openapiOnce sync.Once
	openapi     *openAPIStore // the OpenAPI v3 documents (openapi.go)

	rawOnce sync.Once

	// watchLists remembers, per resource, whether the server streams lists
	// (streamsLists, watchlist.go): a resource's server may be an
	// aggregated one, and the watch cache is per resource.
	watchLists sync.Map // schema.GroupVersionResource -> bool
	raw        *rest.RESTClient
	bulkRaw    *rest.RESTClient // raw without the client-side rate limit, as bulk
	rawErr     error
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
	if info, err := c.Context(); err == nil {
		wrapJournal(c.flags, cfg, info.Name) // journal.go
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

// configError words a kubeconfig that cannot be used as kubectl words it:
// an invalid one (an unknown context, a cluster without a server) as
// "error in configuration: ...", one that cannot be read or parsed with
// what failed ("stat F: no such file or directory", `error loading config
// file "F": yaml: ...`).
func configError(err error) error {
	switch {
	case clientcmd.IsEmptyConfig(err):
		return fmt.Errorf("no kubeconfig found: set KUBECONFIG, pass --kubeconfig, or create ~/.kube/config")
	case clientcmd.IsConfigurationInvalid(err):
		var msgs []string
		if agg, ok := err.(utilerrors.Aggregate); ok {
			for _, e := range utilerrors.Flatten(agg).Errors() {
				msgs = append(msgs, e.Error())
			}
		}
		if len(msgs) == 0 {
			msgs = []string{err.Error()}
		}
		return &configErr{msg: "error in configuration: " + strings.Join(msgs, "; "), err: err}
	}
	return fmt.Errorf("kubeconfig: %w", err)
}

// configErr is a kubeconfig that is not valid, in kubectl's words.
type configErr struct {
	msg string
	err error
}

func (e *configErr) Error() string { return e.msg }
func (e *configErr) Unwrap() error { return e.err }

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
	body, err := doRaw(ctx, rc.Get().AbsPath("/version"))
	if err != nil {
		return "", apiError(err, "")
	}
	if err := json.Unmarshal(body, &info); err != nil {
		return "", fmt.Errorf("decoding /version: %w", err)
	}
	return info.GitVersion, nil
}

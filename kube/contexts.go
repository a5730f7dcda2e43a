package kube

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// Clients hands out one Client per kubeconfig context, made on first use
// and reused, all from the same kubeconfig flags.
type Clients struct {
	flags *genericclioptions.ConfigFlags

	mu      sync.Mutex
	clients map[string]*Client
}

// NewClients returns the clients of the kubeconfig that flags select.
func NewClients(flags *genericclioptions.ConfigFlags) *Clients {
	return &Clients{flags: flags, clients: map[string]*Client{}}
}

// For returns the client of context name. An unknown name fails and lists
// the contexts that exist.
func (cs *Clients) For(name string) (*Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.clients[name]; ok {
		return c, nil
	}
	raw, err := cs.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, configError(err)
	}
	if _, ok := raw.Contexts[name]; !ok {
		names := make([]string, 0, len(raw.Contexts))
		for n := range raw.Contexts {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("no context %q in the kubeconfig; the contexts are: %s", name, strings.Join(names, ", "))
	}
	c := NewClient(forContext(cs.flags, name))
	cs.clients[name] = c
	return c, nil
}

// forContext copies the user's kubeconfig flags (without their cached
// loaders) for another context. The namespace is that context's own: -n
// names the namespace of the context the session started in.
func forContext(base *genericclioptions.ConfigFlags, name string) *genericclioptions.ConfigFlags {
	f := NewConfigFlags()
	f.CacheDir, f.KubeConfig = base.CacheDir, base.KubeConfig
	f.ClusterName, f.AuthInfoName = base.ClusterName, base.AuthInfoName
	f.APIServer, f.TLSServerName, f.Insecure = base.APIServer, base.TLSServerName, base.Insecure
	f.CertFile, f.KeyFile, f.CAFile, f.BearerToken = base.CertFile, base.KeyFile, base.CAFile, base.BearerToken
	f.Impersonate, f.ImpersonateUID, f.ImpersonateGroup = base.Impersonate, base.ImpersonateUID, base.ImpersonateGroup
	f.ImpersonateUserExtra = base.ImpersonateUserExtra
	f.Username, f.Password = base.Username, base.Password
	f.Timeout, f.DisableCompression, f.ProxyURL = base.Timeout, base.DisableCompression, base.ProxyURL
	f.WrapConfigFn = base.WrapConfigFn
	f.Context = &name
	return f
}

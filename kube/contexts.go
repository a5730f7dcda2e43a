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

// For returns the shared client of context name, in that context's default
// namespace. An unknown name fails and lists the contexts that exist.
func (cs *Clients) For(name string) (*Client, error) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if c, ok := cs.clients[name]; ok {
		return c, nil
	}
	c, err := cs.New(name, "")
	if err != nil {
		return nil, err
	}
	cs.clients[name] = c
	return c, nil
}

// New returns a client of its own for context name and namespace ns (""
// for the context's default), for a session that switches to them.
func (cs *Clients) New(name, ns string) (*Client, error) {
	raw, err := cs.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, configError(err)
	}
	if _, ok := raw.Contexts[name]; !ok {
		return nil, fmt.Errorf("no context %q in the kubeconfig; the contexts are: %s", name, strings.Join(contextNames(raw.Contexts), ", "))
	}
	f := forContext(cs.flags, name)
	if ns != "" {
		f.Namespace = &ns
	}
	return NewClient(f), nil
}

func contextNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Contexts describes every context of the kubeconfig, sorted by name,
// without contacting any cluster.
func (cs *Clients) Contexts() ([]ContextInfo, error) {
	raw, err := cs.flags.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return nil, configError(err)
	}
	var out []ContextInfo
	for _, name := range contextNames(raw.Contexts) {
		out = append(out, contextInfo(&raw, name))
	}
	return out, nil
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
	inheritJournal(base, f) // journal.go
	return f
}

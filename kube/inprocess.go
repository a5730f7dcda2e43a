package kube

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/k8sh/k8sh/kube/fake"
)

// Fake is a fake cluster (kube/fake) and its clients: a kubeconfig of one
// context, whose requests the fake answers in this process.
type Fake struct {
	Server  *fake.Server
	Client  *Client  // the context's client, in namespace "default"
	Clients *Clients // the kubeconfig's: the one context
	Close   func()   // removes the kubeconfig and discovery cache
}

// NewFake returns a new fake cluster holding objs, under a kubeconfig
// context called name whose namespace is "default". No connection is
// made: the fake answers every request in this process.
func NewFake(objs []map[string]any, name string) (*Fake, error) {
	srv, err := fake.New()
	if err != nil {
		return nil, err
	}
	if err := srv.Add(objs...); err != nil {
		return nil, err
	}
	flags, closeFn, err := inProcessFlags(fake.Transport(srv), name)
	if err != nil {
		return nil, err
	}
	return &Fake{Server: srv, Client: NewClient(flags), Clients: NewClients(flags), Close: closeFn}, nil
}

// inProcessFlags are kubeconfig flags whose one context, name (namespace
// "default"), is served by rt in this process: a kubeconfig and a
// discovery cache in a temporary directory that closeFn removes.
func inProcessFlags(rt http.RoundTripper, name string) (flags *genericclioptions.ConfigFlags, closeFn func(), err error) {
	dir, err := os.MkdirTemp("", "k8sh-fake-")
	if err != nil {
		return nil, nil, err
	}
	closeFn = func() { os.RemoveAll(dir) }
	cfg := clientcmdapi.NewConfig()
	// Requests go to rt; what dials for itself (exec, port-forward: their
	// streams open connections of their own) finds a loopback port where
	// nothing listens, and no name to look up.
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: "http://127.0.0.1:1"}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	path := filepath.Join(dir, "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("fake cluster: %w", err)
	}
	cache := filepath.Join(dir, "cache")
	flags = genericclioptions.NewConfigFlags(true)
	flags.KubeConfig, flags.CacheDir = &path, &cache
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c.Transport = rt
		c.QPS, c.Burst = -1, 0
		return c
	}
	return flags, closeFn, nil
}

package kube_test

import (
	"net/http"
	"sync"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// requestLog records the paths of the requests a client sends.
type requestLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.paths = append(l.paths, r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.paths
	l.paths = nil
	return p
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func countingClient(env *kubetest.Env, cacheDir string, log *requestLog) *kube.Client {
	flags := kube.NewConfigFlags()
	kc, ns := env.Kubeconfig, env.Namespace
	flags.KubeConfig, flags.Namespace, flags.CacheDir = &kc, &ns, &cacheDir
	wrap := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c = wrap(c)
		c.Wrap(log.wrap)
		return c
	}
	return kube.NewClient(flags)
}

// TestDiscoveryRequestsE2E checks that resolving kinds costs at most 3
// requests with a cold discovery cache (aggregated discovery: /api and
// /apis) and none with a warm one, and that a kind the cache does not know
// costs one rediscovery.
func TestDiscoveryRequestsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	dir := t.TempDir()
	var log requestLog

	cold := countingClient(env, dir, &log)
	for _, k := range []string{"pods", "deploy", "cm", "Service", "deployments.apps"} {
		if _, err := cold.Resolve(k); err != nil {
			t.Fatalf("Resolve(%q): %v", k, err)
		}
	}
	if got := log.take(); len(got) > 3 {
		t.Errorf("cold discovery made %d requests, want <= 3: %v", len(got), got)
	}

	warm := countingClient(env, dir, &log)
	for _, k := range []string{"pods", "deploy"} {
		if _, err := warm.Resolve(k); err != nil {
			t.Fatalf("Resolve(%q): %v", k, err)
		}
	}
	if got := log.take(); len(got) > 1 {
		t.Errorf("warm discovery made %d requests, want <= 1: %v", len(got), got)
	}

	if _, err := warm.Resolve("nosuchkinds"); err == nil {
		t.Fatal("Resolve(nosuchkinds) succeeded")
	}
	if got := log.take(); len(got) > 3 {
		t.Errorf("an unknown kind made %d requests, want one rediscovery (<= 3): %v", len(got), got)
	}
}

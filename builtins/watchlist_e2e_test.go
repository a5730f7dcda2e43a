package builtins

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// streamingCluster counts the streaming lists k8s.iter reads.
type streamingCluster struct {
	*kube.Client
	streams, pages atomic.Int32
}

func (c *streamingCluster) StreamRows(ctx context.Context, kind string, opts kube.ListOptions) (*kube.RowStream, error) {
	s, err := c.Client.StreamRows(ctx, kind, opts)
	if s != nil {
		c.streams.Add(1)
	}
	return s, err
}

func (c *streamingCluster) ListRowsPage(ctx context.Context, kind string, opts kube.ListOptions, cont string, have int64) (*kube.RowList, error) {
	c.pages.Add(1)
	return c.Client.ListRowsPage(ctx, kind, opts, cont, have)
}

// TestIterWatchListE2E: on the sandbox (kube-apiserver 1.37, WatchList on)
// k8s.iter reads a streaming list, and gives what kubectl get -o name
// names, in its order, and the objects k8s.list (pages) gives; where=,
// selector= and a break work on it; limit= reads pages; a kind whose
// server refuses streaming lists (metrics.k8s.io) is read by pages.
func TestIterWatchListE2E(t *testing.T) {
	if kube.WatchListOff {
		t.Skip("K8SH_WATCHLIST=0")
	}
	env := kubetest.Sandbox(t)
	n := kube.PageSize + 20
	createConfigMaps(t, env, n, map[string]string{"wl": "yes"}, "wl-")
	c := &streamingCluster{Client: e2eClient(t, env, "sandbox")}
	names := env.Kubectl(t).Must(t, "", "get", "cm", "-o", "name")
	want := strings.Join(strings.Fields(strings.ReplaceAll(names, "configmap/", "")), " ")
	out := runStar(t, c, `
names = [o.metadata.name for o in k8s.iter("cm")]
print(" ".join(names))
streamed = [json.encode(o) for o in k8s.iter("cm", selector="wl=yes")]
listed = [json.encode(o) for o in k8s.list("cm", selector="wl=yes")]
assert.eq(len(streamed), `+itoa(n)+`)
assert.true(streamed == listed, "k8s.iter's objects differ from k8s.list's")
assert.eq(len(list(k8s.iter("cm", selector="wl=yes", where=lambda c: c.metadata.name.endswith("7")))), `+itoa(countSuffix7(n))+`)
first = None
for o in k8s.iter("cm", selector="wl=yes"):
    first = o
    break
assert.eq(first.metadata.name, "wl-0")
assert.eq(first.kind, "ConfigMap")
assert.eq(first.apiVersion, "v1")
assert.fails(lambda: k8s.iter("nopes"), "k8s.iter: the server doesn't have a resource type")
`)
	if got := strings.TrimSpace(out); got != want {
		t.Errorf("k8s.iter names:\n%s\nkubectl get cm -o name:\n%s", got, want)
	}
	if s, p := c.streams.Load(), c.pages.Load(); s != 4 || p != 0 {
		t.Errorf("%d streaming lists and %d pages, want 4 and 0", s, p)
	}
	c.streams.Store(0)
	c.pages.Store(0)
	runStar(t, c, `
assert.eq(len(list(k8s.iter("cm", selector="wl=yes", limit=510))), 510)
assert.eq(type(list(k8s.iter("nodes.metrics.k8s.io"))), "list")
`)
	if s, p := c.streams.Load(), c.pages.Load(); s != 0 || p < 3 {
		t.Errorf("limit= and metrics.k8s.io: %d streaming lists and %d pages, want none and >= 3", s, p)
	}
}

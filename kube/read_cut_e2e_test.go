package kube_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/tools/netproxy"
)

// TestListPageCutE2E: a connection cut while a list page's body comes (the
// transport's retries cover only what fails before an answer) is read
// again from the same continue token: the list is whole, nothing twice.
func TestListPageCutE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := writeClient(t, env)
	objs := configMaps(700)
	for _, o := range objs {
		pad := make([]byte, 768)
		rand.Read(pad)
		o.Object["data"] = map[string]any{"pad": base64.StdEncoding.EncodeToString(pad)} // not compressible
	}
	if _, err := c.Apply(context.Background(), objs, kube.ApplyOptions{Namespace: env.Namespace}); err != nil {
		t.Fatal(err)
	}
	proxy, err := netproxy.Start("127.0.0.1:0", strings.TrimPrefix(env.Config.Host, "https://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	flags := kube.NewConfigFlags()
	kc, ns, kctx, dir, server := env.Kubeconfig, env.Namespace, "sandbox", t.TempDir(), "https://"+proxy.Addr()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir, flags.APIServer = &kc, &ns, &kctx, &dir, &server
	pc := kube.NewClient(flags)
	if _, err := pc.Resolve("configmaps"); err != nil { // discovery before the cut
		t.Fatal(err)
	}
	// 500 a page: ~520 KB of JSON, sent gzipped (~400 KB): cut in page 1,
	// and in page 2.
	for _, cut := range []int64{100 << 10, 500 << 10} {
		proxy.CutAfter(cut)
		before := proxy.Accepted.Load()
		l, err := pc.List(context.Background(), "configmaps", kube.ListOptions{Namespace: ns})
		if err != nil {
			t.Fatalf("cut after %d KB: %v", cut>>10, err)
		}
		seen := map[string]bool{}
		for _, it := range l.Items {
			if seen[it.GetName()] {
				t.Errorf("cut after %d KB: %s twice", cut>>10, it.GetName())
			}
			seen[it.GetName()] = true
		}
		if len(seen) < 700 { // 700, and the namespace's kube-root-ca.crt
			t.Errorf("cut after %d KB: %d ConfigMaps, want 700 and more", cut>>10, len(seen))
		}
		if proxy.Accepted.Load() == before {
			t.Errorf("cut after %d KB: no new connection: was it cut?", cut>>10)
		}
	}
}

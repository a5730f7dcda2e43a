package kube_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/tools/netproxy"
)

// TestLogFollowResumesE2E: k8s.logs(follow=True) of a named pod and of a
// selector go on across a cut connection (tools/netproxy between k8sh and
// the apiserver) and an apiserver restart: every line the container
// writes arrives once, in order, none lost, none repeated. The private
// sandbox's kwok follows its pod.log, which the test appends to.
func TestLogFollowResumesE2E(t *testing.T) {
	env := kubetest.PrivateSandbox(t)
	ns := env.Namespace
	pod := kubetest.CreateWeb(t, env, ns)
	logFile := filepath.Join(filepath.Dir(env.Kubeconfig), "pod.log")
	base, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	canned := strings.Count(string(base), "\n")
	proxy, err := netproxy.Start("127.0.0.1:0", strings.TrimPrefix(env.Config.Host, "https://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	flags := kube.NewConfigFlags()
	kc, kctx, dir, server := env.Kubeconfig, "sandbox", t.TempDir(), "https://"+proxy.Addr()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir, flags.APIServer = &kc, &ns, &kctx, &dir, &server
	c := kube.NewClient(flags)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := kube.LogOptions{Container: "", Tail: -1}
	named, err := c.FollowLogs(ctx, ns, pod, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer named.Stop()
	bySelector, err := c.FollowLogs(ctx, ns, "", "app=web", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer bySelector.Stop()

	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	next := 0
	write := func(n int) {
		for range n {
			next++
			// CRI log lines, as a container runtime writes them.
			fmt.Fprintf(f, "%s stdout F line %d\n", time.Now().UTC().Format(time.RFC3339Nano), next)
		}
	}
	// got reads from l until it has want lines after the canned ones.
	got := map[*kube.LogFollower][]string{}
	read := func(l *kube.LogFollower, want int) {
		t.Helper()
		for len(got[l]) < canned+want {
			select {
			case line, ok := <-l.Lines():
				if !ok {
					t.Fatalf("the follow ended after %d lines: %v", len(got[l]), l.Err())
				}
				got[l] = append(got[l], line.Text)
			case <-ctx.Done():
				t.Fatalf("%d lines of %d after 3 minutes", len(got[l]), canned+want)
			}
		}
	}
	both := func(want int) {
		read(named, want)
		read(bySelector, want)
	}
	write(50)
	both(50)
	proxy.CutAll() // the streams break
	write(50)
	both(100)
	kubetest.RestartAPIServer(t, env) // refused for a while, then back
	write(50)
	both(150)
	for l, lines := range got {
		for i, text := range lines[canned:] {
			if want := fmt.Sprintf("line %d", i+1); text != want {
				t.Fatalf("line %d: %q, want %q (lost or repeated)\n%s", canned+i+1, text, want, strings.Join(lines, "\n"))
			}
		}
		select {
		case extra := <-l.Lines():
			t.Errorf("one more line than written: %q", extra.Text)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

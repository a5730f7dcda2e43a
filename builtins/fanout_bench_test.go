package builtins

// BenchmarkFleetList: list the pods of 20 contexts at once, the issue 23
// target (docs/performance.md, "Fan-out across 20 contexts"):
//
//	go test -run '^$' -bench FleetList -benchtime 5x -count 3 -timeout 30m ./builtins/
//
// The fleet is the sandbox 20 times: contexts fleet-00 .. fleet-19 of a
// generated kubeconfig, each through its own tools/netproxy (10 ms each
// way: 20 ms more per round trip), all on 127.0.0.1. The sandbox's
// certificate names 127.0.0.1, which each proxy's address is, so TLS
// verifies as it does without them.

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/tools/netproxy"
)

const (
	fleetSize  = 20
	fleetDelay = 10 * time.Millisecond // each way
	fleetPods  = 20                    // in the namespace each context lists
)

// fleetBench is the generated kubeconfig of the fleet, in the namespace
// holding fleetPods pods.
func fleetBench(b *testing.B) (*kubetest.Env, string, []string, *netproxy.Fault) {
	if err := kubetest.SandboxReachable(); err != nil {
		b.Skipf("no sandbox: %v", err)
	}
	env := kubetest.Sandbox(b)
	ctx := context.Background()
	for i := range fleetPods {
		if _, err := env.Clientset.CoreV1().Pods(env.Namespace).Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("p-%02d", i)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := env.Clientset.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "k8sh-fleet-empty"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	// The replayed fleet: replay-00 .. replay-19, each through a netproxy
	// of its own as the fleet's are, to an HTTP proxy in this process that
	// answers the list of the namespace's pods from memory (the apiserver's
	// own answer to that request, read once here) and forwards the rest
	// (discovery) to the apiserver: what the client and the network cost,
	// without the one apiserver's CPU.
	replay := env.FaultProxy(b, true)
	body, err := env.Clientset.CoreV1().RESTClient().Get().AbsPath("/api/v1/namespaces/"+env.Namespace+"/pods").
		Param("includeObject", "Object").Param("limit", "500").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").DoRaw(ctx)
	if err != nil {
		b.Fatal(err)
	}
	replayed, err := replay.Add(&netproxy.Fault{Method: "GET", Path: "^/api/v1/namespaces/" + env.Namespace + `/pods\?includeObject=Object&limit=500$`, Status: 200, Body: body})
	if err != nil {
		b.Fatal(err)
	}
	var ctxs []fleetContext
	var names []string
	for _, fleet := range []struct{ prefix, target string }{
		{"fleet", strings.TrimPrefix(env.Config.Host, "https://")},
		{"replay", strings.TrimPrefix(replay.URL(), "https://")},
	} {
		for i := range fleetSize {
			p, err := netproxy.Start("127.0.0.1:0", fleet.target, fleetDelay)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { p.Close() })
			name := fmt.Sprintf("%s-%02d", fleet.prefix, i)
			if fleet.prefix == "fleet" {
				names = append(names, name)
			}
			ctxs = append(ctxs, fleetContext{name: name, namespace: env.Namespace, server: "https://" + p.Addr()})
		}
	}
	return env, writeFleetKubeconfig(b, env, ctxs), names, replayed
}

// fleetList runs k8s.list("pods", ARGS) in the session of thread and
// checks it read want pods.
func fleetList(b *testing.B, thread *starlark.Thread, s *Session, args string, want int) {
	g, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", "pods = k8s.list(\"pods\", "+args+")\nerrs = k8s.last_errors()\n", Globals(s))
	if err != nil {
		b.Fatal(err)
	}
	if n := g["pods"].(*starlark.List).Len(); n != want {
		b.Fatalf("k8s.list(%s): %d pods, want %d (errors: %s)", args, n, want, g["errs"])
	}
}

func BenchmarkFleetList(b *testing.B) {
	if testing.Short() {
		b.Skip("needs the sandbox")
	}
	env, kc, names, replayed := fleetBench(b)
	cache := b.TempDir() // the discovery cache all runs share, as ~/.kube/cache is
	session := func() (*starlark.Thread, *Session) {
		flags := kube.NewConfigFlags()
		flags.KubeConfig, flags.CacheDir = &kc, &cache
		clients := kube.NewClients(flags)
		s := &Session{
			Cluster:    kube.NewClient(flags),
			ForContext: func(name string) (Cluster, error) { return clients.For(name) },
			Contexts:   clients,
		}
		thread := &starlark.Thread{Name: "bench", Print: func(*starlark.Thread, string) {}}
		SetSession(thread, s)
		sys.SetContext(thread, context.Background())
		return thread, s
	}
	kubectl := env.Kubectl(b).Bin
	kubectlGet := func(name string) {
		cmd := exec.Command(kubectl, "--kubeconfig", kc, "--cache-dir", cache, "--context", name, "get", "pods", "-o", "json")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("kubectl --context %s: %v", name, err)
		}
		if n := strings.Count(string(out), `"kind": "Pod"`); n != fleetPods {
			b.Fatalf("kubectl --context %s: %d pods, want %d", name, n, fleetPods)
		}
	}
	// Warm the discovery cache of every proxy's address, for k8sh and
	// kubectl alike.
	for _, n := range names {
		kubectlGet(n)
	}
	thread, s := session()
	fleetList(b, thread, s, `contexts=["fleet-*"]`, fleetSize*fleetPods)
	fleetList(b, thread, s, `contexts=["replay-*"]`, fleetSize*fleetPods)

	// A session that has run before (the REPL, a script's second call):
	// its clients and their connections are made.
	b.Run("k8sh-warm/1-context", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `context="fleet-00"`, fleetPods)
		}
	})
	b.Run("k8sh-warm/20-contexts", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `contexts=["fleet-*"]`, fleetSize*fleetPods)
		}
	})
	// The same in a namespace without pods: what the fan-out costs when
	// the one apiserver behind the 20 contexts has next to nothing to do.
	b.Run("k8sh-warm/1-context-empty", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `context="fleet-00", namespace="k8sh-fleet-empty"`, 0)
		}
	})
	b.Run("k8sh-warm/20-contexts-empty", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `contexts=["fleet-*"], namespace="k8sh-fleet-empty"`, 0)
		}
	})
	// The lists answered from memory (fleetBench): k8sh's work, the
	// proxies' and the 20 ms round trip, as against 20 apiservers on
	// machines of their own; apiserver-ms/op is then only the discovery's
	// (none, warm).
	b.Run("k8sh-warm/1-context-replayed", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `context="replay-00"`, fleetPods)
		}
	})
	b.Run("k8sh-warm/20-contexts-replayed", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		before := replayed.Hits()
		for b.Loop() {
			fleetList(b, thread, s, `contexts=["replay-*"]`, fleetSize*fleetPods)
		}
		if n := replayed.Hits() - before; n != int64(b.N*fleetSize) {
			b.Fatalf("the replaying proxy answered %d lists of %d: k8sh's requests did not match it", n, b.N*fleetSize)
		}
	})
	// The replayed fleet with parallel=20: the 20 lists in flight at once
	// (the default, 16, asks the last 4 after the first answers: two round
	// trips).
	b.Run("k8sh-warm/20-contexts-replayed-parallel-20", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		before := replayed.Hits()
		for b.Loop() {
			fleetList(b, thread, s, `contexts=["replay-*"], parallel=20`, fleetSize*fleetPods)
		}
		if n := replayed.Hits() - before; n != int64(b.N*fleetSize) {
			b.Fatalf("the replaying proxy answered %d lists of %d: k8sh's requests did not match it", n, b.N*fleetSize)
		}
	})
	// parallel=20: all at once (the default, 16, asks 4 of them after the
	// first ones answer).
	b.Run("k8sh-warm/20-contexts-parallel-20", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			fleetList(b, thread, s, `contexts=["fleet-*"], parallel=20`, fleetSize*fleetPods)
		}
	})
	// A new session each time (a k8sh process's first call): new clients,
	// new connections and TLS handshakes, the discovery cache on disk.
	b.Run("k8sh-cold/1-context", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			thread, s := session()
			fleetList(b, thread, s, `context="fleet-00"`, fleetPods)
		}
	})
	b.Run("k8sh-cold/20-contexts", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			thread, s := session()
			fleetList(b, thread, s, `contexts=["fleet-*"]`, fleetSize*fleetPods)
		}
	})
	b.Run("k8sh-cold/20-contexts-parallel-20", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			thread, s := session()
			fleetList(b, thread, s, `contexts=["fleet-*"], parallel=20`, fleetSize*fleetPods)
		}
	})
	// The peer: for c in fleet-00 .. fleet-19: kubectl --context $c get pods -o json.
	b.Run("kubectl/1-context", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			kubectlGet(names[0])
		}
	})
	b.Run("kubectl/20-contexts-loop", func(b *testing.B) {
		defer cpuPerOp(b, env)()
		for b.Loop() {
			for _, n := range names {
				kubectlGet(n)
			}
		}
	})
}

// cpuPerOp reports, when the returned function is called at the end of a
// benchmark, the CPU time the sandbox's kube-apiserver spent per op
// (apiserver-ms/op), and etcd's (etcd-ms/op): all 20 contexts are the one
// apiserver, on the same cores as the client, so this is what the fan-out
// cannot spread.
func cpuPerOp(b *testing.B, env *kubetest.Env) func() {
	// 0 (not measured) when the sandbox's state does not say.
	pid, _ := kubetest.ComponentPid(env, "kube-apiserver")
	etcd, _ := kubetest.ComponentPid(env, "etcd")
	start, startEtcd, startSelf := kubetest.ProcessCPU(pid), kubetest.ProcessCPU(etcd), kubetest.SelfCPU()
	perOp := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / float64(b.N) }
	return func() {
		if end := kubetest.ProcessCPU(pid); pid != 0 && start >= 0 && end >= 0 && b.N > 0 {
			b.ReportMetric(perOp(end-start), "apiserver-ms/op")
		}
		// Each list's consistent read asks etcd for its revision.
		if end := kubetest.ProcessCPU(etcd); etcd != 0 && startEtcd >= 0 && end >= 0 && b.N > 0 {
			b.ReportMetric(perOp(end-startEtcd), "etcd-ms/op")
		}
		if b.N > 0 {
			// This process: k8sh (or the kubectl runs' waiting) and the 20
			// proxies.
			b.ReportMetric(perOp(kubetest.SelfCPU()-startSelf), "bench-process-cpu-ms/op")
		}
	}
}

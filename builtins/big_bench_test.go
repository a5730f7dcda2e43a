package builtins

// A big cluster (issue 21): 100,000 Pods on 100 kwok nodes.
//
//	K8SH_SANDBOX_KUBECONFIG=$PWD/.cache/sandbox/kubeconfig \
//	  go test -run '^$' -bench Big100kPods -benchtime 1x -timeout 60m ./builtins/
//
// The first run fills the sandbox (kubetest.Big100kPods: 100 namespaces of
// 1,000 Pods, bound to 100 kwok nodes, which kwok keeps Running); later
// runs reuse them. Each round times, one after the other: the wire floor
// (the Table pages k8s.list asks for, read with k8sh's transport and thrown
// away: wireFloorOf), k8s.list of every Pod, client-go's dynamic List of
// them, two filters in Starlark over the listed Pods, filtered lists (where=,
// a field selector, a label selector), name completion in the REPL, and
// k8s.print of the 100,000 against kubectl get pods -A.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/metadata"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/repl"
)

// apiserverCPU reads the CPU time the sandbox's kube-apiserver has used so
// far (user and system, from /proc), or -1 when it cannot.
type apiserverCPU struct{ pid int }

func newAPIServerCPU(env *kubetest.Env) apiserverCPU {
	pid, err := kubetest.APIServerPid(env)
	if err != nil {
		return apiserverCPU{-1}
	}
	return apiserverCPU{pid}
}

// ms is the CPU time used so far, in milliseconds.
func (a apiserverCPU) ms() float64 {
	if a.pid <= 0 {
		return -1
	}
	d := kubetest.ProcessCPU(a.pid)
	if d < 0 {
		return -1
	}
	return float64(d) / float64(time.Millisecond)
}

// lineCounter counts the lines written to it.
type lineCounter int

func (n *lineCounter) Write(p []byte) (int, error) {
	*n += lineCounter(bytes.Count(p, []byte("\n")))
	return len(p), nil
}

// bigRun runs src on thread and returns the global named out.
func bigRun(b *testing.B, thread *starlark.Thread, src, out string) starlark.Value {
	g, err := starlark.ExecFileOptions(starOptions, thread, "big.star", src, Globals(nil))
	if err != nil {
		b.Fatalf("%s: %v", src, err)
	}
	return g[out]
}

func bigLen(b *testing.B, v starlark.Value) int {
	n, ok := v.(starlark.Sequence)
	if !ok {
		b.Fatalf("not a list: %v", v.Type())
	}
	return n.Len()
}

// BenchmarkBig100kPods reports, as medians over b.N interleaved rounds
// (milliseconds unless named otherwise):
//
//	floor-ms           the wire floor of every Pod's Table pages (k8s.list's)
//	k8sh-ms            k8s.list("pods", all_namespaces=True)
//	client-go-ms       client-go's dynamic List of every Pod, page by page
//	filter-node-ms     [p for p in pods if p.spec.nodeName == NODE] (1,000)
//	filter-label-ms    [p for p in pods if p.metadata.labels.get("app") == "api"] (10,000)
//	where-ms           k8s.list(..., where=lambda p: p.spec.nodeName == NODE)
//	fields-ms          k8s.list(..., fields="spec.nodeName=NODE") (server side)
//	selector-ms        k8s.list(..., selector="app=api") (server side)
//	kubectl-get-ms     kubectl get pods -A, a process
//	k8sh-proc-print-ms k8sh -c 'k8s.print(k8s.list(...))', a process
//	tab-first-ms       the first TAB completing a pod name in a namespace of
//	                   1,000 (a new completion cache: one metadata list)
//	tab-p95-ms         p95 of the TABs after it (pods, nodes, namespaces)
//	kubectl-tab-ms     kubectl __complete of the same pod name, a process
//
// and the ratios to the floor and peers; names-all-ms (once: a metadata-only
// list of every Pod, what a completion over all namespaces would wait for),
// json-MB (the bytes of the Table pages), live-MB (the heap a listed 100k
// holds), the peak RSS of the two printing processes and of a k8sh process
// that lists with where= (keeping 1,000), and of one whose where runs after
// the whole list (limit=, the way where ran before), the apiserver's CPU
// time during the floor and during k8s.list, and fill-s when this run
// filled the cluster.
func BenchmarkBig100kPods(b *testing.B) {
	env, fill := kubetest.Big100kPods(b)
	ctx := context.Background()
	cfg := benchRESTConfig(b, env)
	rc := floorClient(b, cfg)
	apiCPU := newAPIServerCPU(env)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	podsGVR := schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	clientGo := func() int {
		var items []unstructured.Unstructured
		for cont := ""; ; {
			page, err := dyn.Resource(podsGVR).List(ctx, metav1.ListOptions{Limit: kube.PageSize, Continue: cont})
			if err != nil {
				b.Fatal(err)
			}
			items = append(items, page.Items...)
			if cont = page.GetContinue(); cont == "" {
				return len(items)
			}
		}
	}
	namesAll := func() int {
		n := 0
		for opts := (metav1.ListOptions{Limit: kube.PageSize}); ; {
			l, err := mc.Resource(podsGVR).List(ctx, opts)
			if err != nil {
				b.Fatal(err)
			}
			n += len(l.Items)
			if opts.Continue = l.Continue; opts.Continue == "" {
				return n
			}
		}
	}

	const (
		node      = "k8sh-big-node-07"
		nodePods  = kubetest.BigPodCount / kubetest.BigNodes
		apiPods   = kubetest.BigPodCount / 10 // app=api: one app in 10
		tabNS     = "k8sh-big-042"
		tabPrefix = "api-"
	)
	thread := benchThread(benchClient(b, env))
	listSrc := `pods = k8s.list("pods", all_namespaces=True)`
	printSrc := `k8s.print(k8s.list("pods", all_namespaces=True))`

	// Name completion, as the REPL does it, in a session whose namespace
	// is tabNS.
	flags := kube.NewConfigFlags()
	kc, kctx, dir, ns := env.Kubeconfig, "sandbox", b.TempDir(), tabNS
	flags.KubeConfig, flags.Context, flags.CacheDir, flags.Namespace = &kc, &kctx, &dir, &ns
	session := &Session{Cluster: kube.NewClient(flags)}
	clients := kube.NewClients(flags)
	completer := func() *repl.Completer {
		return &repl.Completer{Globals: Globals(nil), Source: NewCompletionSource(session, clients)}
	}
	tabs := []struct {
		line string
		want int
	}{
		{`k8s.get("pod", "` + tabPrefix, kubetest.BigPodsPerNamespace / len(kubetest.BigApps)},
		{`k8s.logs("` + tabPrefix, kubetest.BigPodsPerNamespace / len(kubetest.BigApps)},
		{`k8s.drain("k8sh-big-node-4`, 10},
		{`k8s.list("pods", namespace="k8sh-big-04`, 10},
	}

	kubectl := env.Kubectl(b).Bin // the sandbox's, of the same version as the server
	bin := k8shBinary(b)
	cacheDir := b.TempDir()
	kubectlArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "get", "pods", "-A"}
	kubectlTab := []string{"__complete", "get", "pods", "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-n", tabNS, tabPrefix}
	k8shArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-c", printSrc}
	whereSrc := fmt.Sprintf(`n = len(k8s.list("pods", all_namespaces=True, where=lambda p: p.spec.nodeName == %q))
if n != %d: fail(n)`, node, nodePods)
	whereArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-c", whereSrc}
	// With limit=, where runs once the whole list is read, as every
	// where did before it ran page by page.
	whereAfterArgs := slices.Clone(whereArgs)
	whereAfterArgs[len(whereAfterArgs)-1] = strings.Replace(whereSrc, "where=", "limit=1000000, where=", 1)
	env0 := os.Environ()

	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	timed := func(f func()) float64 { t := time.Now(); f(); return ms(time.Since(t)) }

	// Warm every path: connections, discovery, the apiserver's caches.
	jsonBytes, pages, err := wireFloorOf(ctx, rc, "/api/v1/pods", nil, true)
	if err != nil {
		b.Fatal(err)
	}
	total := bigLen(b, bigRun(b, thread, listSrc, "pods"))
	if total < kubetest.BigPodCount {
		b.Fatalf("k8s.list listed %d pods, want at least %d", total, kubetest.BigPodCount)
	}
	runProcess(b, env0, kubectl, kubectlTab...)
	// What a completion over all namespaces would wait for, once.
	namesAllMS := timed(func() {
		if n := namesAll(); n != total {
			b.Fatalf("metadata list: %d pods, want %d", n, total)
		}
	})

	var (
		floor, k8sh, cgo, fNode, fLabel, where, fields, sel               []float64
		kget, kproc, tabFirst, tabTimes, ktab                             []float64
		live, rss, kubectlRSS, whereRSS, whereAfterRSS, floorCPU, listCPU []float64
	)
	b.ResetTimer()
	for range b.N {
		c0 := apiCPU.ms()
		floor = append(floor, timed(func() {
			if _, _, err := wireFloorOf(ctx, rc, "/api/v1/pods", nil, true); err != nil {
				b.Fatal(err)
			}
		}))
		c1 := apiCPU.ms()
		floorCPU = append(floorCPU, c1-c0)

		before := heapAfterGC()
		var pods starlark.Value
		k8sh = append(k8sh, timed(func() { pods = bigRun(b, thread, listSrc, "pods") }))
		listCPU = append(listCPU, apiCPU.ms()-c1)
		if n := bigLen(b, pods); n != total {
			b.Fatalf("k8s.list listed %d pods, then %d", total, n)
		}
		live = append(live, float64(heapAfterGC()-before)/1e6)

		// Filters in Starlark over the listed Pods: a field of spec, and a
		// label (metadata only).
		filter := func(expr string, want int) float64 {
			g := starlark.StringDict{"pods": pods}
			var v starlark.Value
			d := timed(func() {
				var err error
				v, err = starlark.EvalOptions(starOptions, thread, "filter.star", expr, g)
				if err != nil {
					b.Fatal(err)
				}
			})
			if n := bigLen(b, v); n != want {
				b.Fatalf("%s: %d pods, want %d", expr, n, want)
			}
			return d
		}
		fNode = append(fNode, filter(fmt.Sprintf(`[p for p in pods if p.spec.nodeName == %q]`, node), nodePods))
		fLabel = append(fLabel, filter(`[p for p in pods if p.metadata.labels.get("app") == "api"]`, apiPods))
		runtime.KeepAlive(pods)
		pods = nil

		list := func(args string, want int) float64 {
			var v starlark.Value
			d := timed(func() { v = bigRun(b, thread, `pods = k8s.list("pods", all_namespaces=True, `+args+`)`, "pods") })
			if n := bigLen(b, v); n != want {
				b.Fatalf("k8s.list(%s): %d pods, want %d", args, n, want)
			}
			return d
		}
		where = append(where, list(fmt.Sprintf(`where=lambda p: p.spec.nodeName == %q`, node), nodePods))
		fields = append(fields, list(fmt.Sprintf(`fields="spec.nodeName=%s"`, node), nodePods))
		sel = append(sel, list(`selector="app=api"`, apiPods))

		cgo = append(cgo, timed(func() {
			if n := clientGo(); n != total {
				b.Fatalf("client-go listed %d pods, want %d", n, total)
			}
		}))

		// Completion: the first TAB of a new cache, then the TABs after it.
		c := completer()
		tabFirst = append(tabFirst, timed(func() {
			if got, _ := c.Complete(tabs[0].line); len(got) != tabs[0].want {
				b.Fatalf("%s: %d candidates, want %d", tabs[0].line, len(got), tabs[0].want)
			}
		}))
		for _, tab := range tabs { // each kind's first fetch
			if got, _ := c.Complete(tab.line); len(got) != tab.want {
				b.Fatalf("%s: %d candidates, want %d", tab.line, len(got), tab.want)
			}
		}
		for i := range 50 {
			tab := tabs[i%len(tabs)]
			tabTimes = append(tabTimes, timed(func() { c.Complete(tab.line) }))
		}
		d, _ := runProcess(b, env0, kubectl, kubectlTab...)
		ktab = append(ktab, ms(d))

		d, r := runProcess(b, env0, kubectl, kubectlArgs...)
		kget = append(kget, ms(d))
		kubectlRSS = append(kubectlRSS, float64(r)/1e6)
		var out lineCounter
		d, r = runProcessTo(b, &out, env0, bin, k8shArgs...)
		kproc = append(kproc, ms(d))
		if int(out) != total+1 {
			b.Fatalf("k8sh -c %q printed %d lines, want %d", printSrc, out, total+1)
		}
		rss = append(rss, float64(r)/1e6)
		_, r = runProcess(b, env0, bin, whereArgs...)
		whereRSS = append(whereRSS, float64(r)/1e6)
		_, r = runProcess(b, env0, bin, whereAfterArgs...)
		whereAfterRSS = append(whereAfterRSS, float64(r)/1e6)
	}
	b.StopTimer()
	slices.Sort(tabTimes)
	p95 := tabTimes[len(tabTimes)*95/100]
	fl := kubetest.Median(floor)
	b.ReportMetric(fl, "floor-ms")
	b.ReportMetric(kubetest.Median(k8sh), "k8sh-ms")
	b.ReportMetric(kubetest.Median(cgo), "client-go-ms")
	b.ReportMetric(kubetest.Median(k8sh)/fl, "k8sh/floor")
	b.ReportMetric(kubetest.Median(k8sh)/kubetest.Median(cgo), "k8sh/client-go")
	b.ReportMetric(kubetest.Median(fNode), "filter-node-ms")
	b.ReportMetric(kubetest.Median(fLabel), "filter-label-ms")
	b.ReportMetric(kubetest.Median(where), "where-ms")
	b.ReportMetric(kubetest.Median(where)/fl, "where/floor")
	b.ReportMetric(kubetest.Median(fields), "fields-ms")
	b.ReportMetric(kubetest.Median(sel), "selector-ms")
	b.ReportMetric(kubetest.Median(kget), "kubectl-get-ms")
	b.ReportMetric(kubetest.Median(kproc), "k8sh-proc-print-ms")
	b.ReportMetric(kubetest.Median(kproc)/kubetest.Median(kget), "proc-print/kubectl")
	b.ReportMetric(kubetest.Median(tabFirst), "tab-first-ms")
	b.ReportMetric(p95, "tab-p95-ms")
	b.ReportMetric(kubetest.Median(ktab), "kubectl-tab-ms")
	b.ReportMetric(namesAllMS, "names-all-ms")
	b.ReportMetric(float64(jsonBytes)/1e6, "json-MB")
	b.ReportMetric(kubetest.Median(live), "live-MB")
	b.ReportMetric(kubetest.Median(rss), "k8sh-rss-MB")
	b.ReportMetric(kubetest.Median(kubectlRSS), "kubectl-rss-MB")
	b.ReportMetric(kubetest.Median(whereRSS), "k8sh-where-rss-MB")
	b.ReportMetric(kubetest.Median(whereAfterRSS), "k8sh-where-after-rss-MB")
	b.ReportMetric(kubetest.Median(floorCPU), "apiserver-floor-cpu-ms")
	b.ReportMetric(kubetest.Median(listCPU), "apiserver-list-cpu-ms")
	if fill > 0 {
		b.ReportMetric(fill.Seconds(), "fill-s")
	}
	b.ReportMetric(0, "ns/op")
	b.Logf("load average %s; %d pods, %d pages, %.1f MB of Table JSON; rounds: floor %v k8sh %v client-go %v where %v k8sh-print %v kubectl %v tab-first %v",
		load1(), total, pages, float64(jsonBytes)/1e6, floor, k8sh, cgo, where, kproc, kget, tabFirst)
}

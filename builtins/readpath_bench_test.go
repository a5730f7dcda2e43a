package builtins

// The read path against its floor and its peers, interleaved (issue 21):
//
//	K8SH_SANDBOX_KUBECONFIG=$PWD/.cache/sandbox/kubeconfig \
//	  go test -run '^$' -bench ReadPath10k -benchtime 5x ./builtins/
//
// Each round times, one after the other, on the 10,000 ConfigMaps of
// kubetest.Bench10k: the wire floor (the pages k8sh asks for, fetched with
// the same transport and thrown away), the same for the plain list pages
// client-go asks for, k8s.list, client-go's dynamic List, k8s.print of the
// list (in process), and kubectl get cm as a process; so that the ratios
// come from one run on a shared machine whose speed changes from minute to
// minute. The medians over the rounds are reported, with the ratios.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// benchRESTConfig is the rest config of k8sh's client of the sandbox.
func benchRESTConfig(b *testing.B, env *kubetest.Env) *rest.Config {
	flags := kube.NewConfigFlags()
	kc, kctx := env.Kubeconfig, "sandbox"
	flags.KubeConfig, flags.Context = &kc, &kctx
	cfg, err := flags.ToRESTConfig()
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// wireFloor fetches the pages of the bench namespace's ConfigMaps as k8sh
// does (table: the Table with each row's object, as k8s.list asks; else the
// plain list, as client-go asks), through a REST client made as k8sh makes
// its own (the same transport, retries and rate limit), keeping nothing of
// each body but its continue token. It returns the bytes read and pages.
func wireFloor(ctx context.Context, rc *rest.RESTClient, table bool) (int, int, error) {
	return wireFloorOf(ctx, rc, "/api/v1/namespaces/"+benchNamespace+"/configmaps", nil, table)
}

// wireFloorOf is wireFloor of the collection at path, with the query
// params (a label or field selector) added to each page's request.
func wireFloorOf(ctx context.Context, rc *rest.RESTClient, path string, params map[string]string, table bool) (int, int, error) {
	n, pages := 0, 0
	for cont := ""; ; {
		req := rc.Get().AbsPath(path).
			Param("limit", fmt.Sprint(kube.PageSize)).SetHeader("Accept", "application/json")
		for k, v := range params {
			req = req.Param(k, v)
		}
		if table {
			req = req.SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io,application/json").
				Param("includeObject", "Object")
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		body, err := req.Do(ctx).Raw()
		if err != nil {
			return 0, 0, err
		}
		n += len(body)
		pages++
		cont = continueOf(body)
		if cont == "" {
			return n, pages, nil
		}
	}
}

// continueOf finds the continue token near the start of a list's body.
func continueOf(body []byte) string {
	const key = `"continue":"`
	head := body[:min(len(body), 4096)]
	i := bytes.Index(head, []byte(key))
	if i < 0 {
		return ""
	}
	rest := head[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

func floorClient(b *testing.B, cfg *rest.Config) *rest.RESTClient {
	s := kruntime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	cfg = rest.CopyConfig(cfg)
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(s).WithoutConversion()
	cfg.ContentType = "application/json"
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return rc
}

// heapAfterGC is the heap in use after a collection.
func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

var k8shBinOnce struct {
	sync.Once
	bin string
	err error
}

// k8shBinary builds k8sh once for the benchmarks that run it as a process.
func k8shBinary(b *testing.B) string {
	k8shBinOnce.Do(func() {
		root, err := kubetest.RepoRoot()
		if err != nil {
			k8shBinOnce.err = err
			return
		}
		dir, err := os.MkdirTemp("", "k8sh-bench")
		if err != nil {
			k8shBinOnce.err = err
			return
		}
		bin := filepath.Join(dir, "k8sh")
		build := exec.Command("go", "build", "-o", bin, ".")
		build.Dir = root
		if out, err := build.CombinedOutput(); err != nil {
			k8shBinOnce.err = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		k8shBinOnce.bin = bin
	})
	if k8shBinOnce.err != nil {
		b.Fatal(k8shBinOnce.err)
	}
	return k8shBinOnce.bin
}

// runProcess runs a command with stdout to /dev/null and returns its wall
// time, and its peak RSS when /usr/bin/time is there to measure it (the
// rusage of a child of this process would count this process's memory:
// the child shares it until its exec).
func runProcess(b *testing.B, env []string, name string, args ...string) (time.Duration, int64) {
	return runProcessTo(b, nil, env, name, args...)
}

// runProcessTo is runProcess with the command's stdout to stdout (nil:
// /dev/null).
func runProcessTo(b *testing.B, stdout io.Writer, env []string, name string, args ...string) (time.Duration, int64) {
	var stderr bytes.Buffer
	rssFile := filepath.Join(b.TempDir(), "rss")
	cmd := exec.Command(name, args...)
	if _, err := os.Stat("/usr/bin/time"); err == nil {
		cmd = exec.Command("/usr/bin/time", append([]string{"-f", "%M", "-o", rssFile, name}, args...)...)
	}
	cmd.Stdout, cmd.Stderr = stdout, &stderr
	cmd.Env = env
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	d := time.Since(start)
	var kb int64
	if out, err := os.ReadFile(rssFile); err == nil {
		fmt.Sscan(string(out), &kb)
	}
	return d, kb * 1024
}

// pairedMedian is the median of a[i]/b[i]: for peers measured in the same
// rounds, one slow round (the machine's, not the peer's) moves it less than
// it moves the ratio of the two medians.
func pairedMedian(a, b []float64) float64 {
	r := make([]float64, min(len(a), len(b)))
	for i := range r {
		r[i] = a[i] / b[i]
	}
	return kubetest.Median(r)
}

func load1() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := bytes.Fields(b)
	return string(f[0])
}

// BenchmarkReadPath10k reports, as medians over b.N interleaved rounds:
// floor-ms (the wire floor of k8sh's pages), floor-list-ms (of client-go's),
// k8sh-ms (k8s.list), client-go-ms, print-ms (k8s.print of a list, in
// process: list and table), kubectl-get-ms (kubectl get cm as a process),
// k8sh-proc-print-ms (k8sh -c 'k8s.print(...)' as a process), and the
// ratios; json-MB, the bytes of k8sh's pages, and live-MB, the heap that a
// listed 10k holds; k8sh-rss-MB and k8sh-base-rss-MB, the peak RSS of a
// k8sh process that lists the 10k, and of one that prints 1.
func BenchmarkReadPath10k(b *testing.B) {
	env := benchSandbox(b)
	ctx := context.Background()
	cfg := benchRESTConfig(b, env)
	rc := floorClient(b, cfg)
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cms := dyn.Resource(schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}).Namespace(benchNamespace)
	clientGo := func() int {
		var items []unstructured.Unstructured
		for cont := ""; ; {
			page, err := cms.List(ctx, metav1.ListOptions{Limit: kube.PageSize, Continue: cont})
			if err != nil {
				b.Fatal(err)
			}
			items = append(items, page.Items...)
			if cont = page.GetContinue(); cont == "" {
				return len(items)
			}
		}
	}
	thread := benchThread(benchClient(b, env))
	printThread := benchThread(benchClient(b, env))
	lines := 0
	printThread.Print = func(_ *starlark.Thread, s string) { lines += bytes.Count([]byte(s), []byte("\n")) + 1 }
	printSrc := fmt.Sprintf("k8s.print(k8s.list(\"cm\", namespace=%q))\n", benchNamespace)

	kubectl := env.Kubectl(b).Bin // the sandbox's, of the same version as the server
	bin := k8shBinary(b)
	cacheDir := b.TempDir()
	kubectlArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "get", "cm", "-n", benchNamespace}
	k8shArgs := func(src string) []string {
		return []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-c", src}
	}
	listSrc := fmt.Sprintf("cms = k8s.list(\"cm\", namespace=%q)\nif len(cms) != %d: fail(len(cms))", benchNamespace, benchTotal)
	env0 := os.Environ()

	// Warm every path: connections, discovery, the page cache.
	jsonBytes, pages, err := wireFloor(ctx, rc, true)
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := wireFloor(ctx, rc, false); err != nil {
		b.Fatal(err)
	}
	if _, err := k8shList(thread, ""); err != nil {
		b.Fatal(err)
	}
	clientGo()
	runProcess(b, env0, kubectl, kubectlArgs...)
	runProcess(b, env0, bin, k8shArgs(printSrc)...)

	var floor, floorList, k8sh, cgo, prt, kget, kproc, live, rss, baseRSS []float64
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		if _, _, err := wireFloor(ctx, rc, true); err != nil {
			b.Fatal(err)
		}
		floor = append(floor, ms(time.Since(t)))

		before := heapAfterGC()
		t = time.Now()
		l, err := k8shList(thread, "")
		if err != nil {
			b.Fatal(err)
		}
		k8sh = append(k8sh, ms(time.Since(t)))
		if l.Len() != benchTotal {
			b.Fatalf("len(cms) = %d, want %d", l.Len(), benchTotal)
		}
		live = append(live, float64(heapAfterGC()-before)/1e6)
		runtime.KeepAlive(l)
		l = nil

		t = time.Now()
		if n := clientGo(); n != benchTotal {
			b.Fatalf("client-go listed %d", n)
		}
		cgo = append(cgo, ms(time.Since(t)))

		t = time.Now()
		if _, _, err := wireFloor(ctx, rc, false); err != nil {
			b.Fatal(err)
		}
		floorList = append(floorList, ms(time.Since(t)))

		lines = 0
		t = time.Now()
		if _, err := starlark.ExecFileOptions(starOptions, printThread, "print.star", printSrc, Globals(nil)); err != nil {
			b.Fatal(err)
		}
		prt = append(prt, ms(time.Since(t)))
		if lines != benchTotal+1 {
			b.Fatalf("k8s.print printed %d lines, want %d", lines, benchTotal+1)
		}

		d, _ := runProcess(b, env0, kubectl, kubectlArgs...)
		kget = append(kget, ms(d))
		d, _ = runProcess(b, env0, bin, k8shArgs(printSrc)...)
		kproc = append(kproc, ms(d))
		_, r := runProcess(b, env0, bin, k8shArgs(listSrc)...)
		rss = append(rss, float64(r)/1e6)
		_, r = runProcess(b, env0, bin, k8shArgs("print(1)")...)
		baseRSS = append(baseRSS, float64(r)/1e6)
	}
	b.StopTimer()
	b.ReportMetric(kubetest.Median(floor), "floor-ms")
	b.ReportMetric(kubetest.Median(floorList), "floor-list-ms")
	b.ReportMetric(kubetest.Median(k8sh), "k8sh-ms")
	b.ReportMetric(kubetest.Median(cgo), "client-go-ms")
	b.ReportMetric(kubetest.Median(k8sh)/kubetest.Median(floor), "k8sh/floor")
	b.ReportMetric(kubetest.Median(k8sh)/kubetest.Median(cgo), "k8sh/client-go")
	b.ReportMetric(pairedMedian(k8sh, floor), "k8sh/floor-paired")
	b.ReportMetric(pairedMedian(k8sh, cgo), "k8sh/client-go-paired")
	b.ReportMetric(kubetest.Median(prt), "print-ms")
	b.ReportMetric(kubetest.Median(kget), "kubectl-get-ms")
	b.ReportMetric(kubetest.Median(kproc), "k8sh-proc-print-ms")
	b.ReportMetric(kubetest.Median(prt)/kubetest.Median(kget), "print/kubectl")
	b.ReportMetric(kubetest.Median(kproc)/kubetest.Median(kget), "proc-print/kubectl")
	b.ReportMetric(float64(jsonBytes)/1e6, "json-MB")
	b.ReportMetric(kubetest.Median(live), "live-MB")
	b.ReportMetric(kubetest.Median(rss), "k8sh-rss-MB")
	b.ReportMetric(kubetest.Median(baseRSS), "k8sh-base-rss-MB")
	b.ReportMetric(0, "ns/op")
	b.Logf("load average %s; %d pages, %.1f MB of JSON; rounds: floor %v k8sh %v client-go %v print %v kubectl %v",
		load1(), pages, float64(jsonBytes)/1e6, floor, k8sh, cgo, prt, kget)
}

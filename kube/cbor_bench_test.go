package kube

// JSON against CBOR for the 10,000 ConfigMaps of kubetest (issue 21):
//
//	go test -run '^$' -bench CBOR10k -benchtime 5x ./kube/
//
// kube-apiserver 1.37 serves CBOR only behind the alpha feature gate
// CBORServingAndStorage: the benchmark uses the sandbox of
// K8SH_SANDBOX_KUBECONFIG when it serves CBOR, and otherwise starts a
// sandbox of its own with the gate (kubetest.PrivateSandboxGates, about 10
// s, and 20 s more to fill its 10,000 ConfigMaps). It skips in -short mode.

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer/cbor/direct"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// The media types of the comparison: a plain list as JSON and as CBOR, the
// Table with each row's object that k8s.list reads (JSON only: the server
// answers 406 to a CBOR Table), and the same Table without the objects.
const (
	acceptJSON  = "application/json"
	acceptCBOR  = "application/cbor"
	acceptTable = "application/json;as=Table;v=v1;g=meta.k8s.io"
)

// cborEnv is a sandbox that serves CBOR, with the 10,000 ConfigMaps, and
// how many ConfigMaps their namespace holds.
func cborEnv(b *testing.B) (*kubetest.Env, int) {
	if testing.Short() {
		b.Skip("benchmark of JSON against CBOR: needs a sandbox cluster (run without -short)")
	}
	if kubetest.SandboxReachable() == nil {
		env := kubetest.Sandbox(b)
		if servesCBOR(b, env) {
			return env, kubetest.FillBench10k(b, env)
		}
		b.Logf("the sandbox of %s does not serve CBOR (kube-apiserver without --feature-gates=%s): starting one of the benchmark's own with it", env.Kubeconfig, kubetest.CBORGate)
	}
	env := kubetest.PrivateSandboxGates(b, kubetest.CBORGate)
	if !servesCBOR(b, env) {
		b.Skipf("kube-apiserver started with --feature-gates=%s does not serve CBOR", kubetest.CBORGate)
	}
	return env, kubetest.FillBench10k(b, env)
}

// servesCBOR tells whether the server of env answers a list in CBOR.
func servesCBOR(b *testing.B, env *kubetest.Env) bool {
	c := sandboxClient(b, env)
	rc, err := c.rawClient()
	if err != nil {
		b.Fatal(err)
	}
	var ct string
	res := rc.Get().AbsPath("/api/v1/namespaces/default/configmaps").Param("limit", "1").
		SetHeader("Accept", acceptCBOR+","+acceptJSON).Do(context.Background())
	if err := res.Error(); err != nil {
		b.Fatal(err)
	}
	res.ContentType(&ct)
	return ct == acceptCBOR
}

// sandboxClient is k8sh's client of env's sandbox, as `k8sh --kubeconfig KC
// --context sandbox` makes it.
func sandboxClient(tb testing.TB, env *kubetest.Env) *Client {
	flags := NewConfigFlags()
	kc, kctx, dir := env.Kubeconfig, "sandbox", tb.TempDir()
	flags.KubeConfig, flags.Context, flags.CacheDir = &kc, &kctx, &dir
	return NewClient(flags)
}

// fetchPages reads the pages of the ConfigMaps of ns in the media type
// accept, one GET after the other through k8sh's REST client (its
// transport, retries and rate limit), and returns their bodies.
func fetchPages(ctx context.Context, rc *rest.RESTClient, ns, accept string, params ...string) ([][]byte, error) {
	var pages [][]byte
	for cont := ""; ; {
		req := rc.Get().AbsPath("/api/v1/namespaces", ns, "configmaps").
			Param("limit", strconv.Itoa(PageSize)).SetHeader("Accept", accept)
		for i := 0; i+1 < len(params); i += 2 {
			req = req.Param(params[i], params[i+1])
		}
		if cont != "" {
			req = req.Param("continue", cont)
		}
		body, err := req.Do(ctx).Raw()
		if err != nil {
			return nil, err
		}
		pages = append(pages, body)
		if accept == acceptCBOR {
			cont = cborContinue(body)
		} else {
			cont = peekContinue(body)
		}
		if cont == "" {
			return pages, nil
		}
	}
}

// cborContinue finds the continue token of a CBOR list, whose metadata
// may come after its items (the server writes a map's keys in any order):
// the last key "continue" and the string after it. kube-apiserver writes
// Go strings as CBOR byte strings (major type 2), keys included.
func cborContinue(body []byte) string {
	i := bytes.LastIndex(body, []byte("continue"))
	if i < 1 || (body[i-1] != 0x48 && body[i-1] != 0x68) { // a string of 8 bytes
		return ""
	}
	rest := body[i+len("continue"):]
	if len(rest) == 0 || (rest[0]>>5 != 2 && rest[0]>>5 != 3) {
		return ""
	}
	n, hd := int(rest[0]&0x1f), 1
	switch {
	case n < 24:
	case n == 24 && len(rest) > 1:
		n, hd = int(rest[1]), 2
	case n == 25 && len(rest) > 2:
		n, hd = int(rest[1])<<8|int(rest[2]), 3
	default:
		return ""
	}
	if len(rest) < hd+n {
		return ""
	}
	return string(rest[hd : hd+n])
}

func sum(pages [][]byte) int {
	n := 0
	for _, p := range pages {
		n += len(p)
	}
	return n
}

// decodeJSONLazy is what k8s.list does with a page: check it and split its
// items (each decoded when it is looked at).
func decodeJSONLazy(pages [][]byte) (int, error) {
	n := 0
	for _, p := range pages {
		page, err := parsePage(p)
		if err != nil {
			return 0, err
		}
		n += len(page.Items) + len(page.Rows)
	}
	return n, nil
}

// decodeJSONWhole is what a plain List does (k8s.describe, k8s.delete of
// a selection): each item decoded whole, into the maps of unstructured.
func decodeJSONWhole(pages [][]byte) ([]map[string]any, error) {
	var items []map[string]any
	for _, p := range pages {
		page, err := parsePage(p)
		if err != nil {
			return nil, err
		}
		for _, it := range page.Items {
			items = append(items, it.Map())
		}
	}
	return items, nil
}

// decodeCBORWhole decodes CBOR pages into the same maps, with the decoder
// of apimachinery's CBOR serializer (what client-go's unstructured CBOR
// decoding uses).
func decodeCBORWhole(pages [][]byte) ([]map[string]any, error) {
	var items []map[string]any
	for _, p := range pages {
		var page struct {
			APIVersion string           `json:"apiVersion"`
			Kind       string           `json:"kind"`
			Metadata   map[string]any   `json:"metadata"`
			Items      []map[string]any `json:"items"`
		}
		if err := direct.Unmarshal(p, &page); err != nil {
			return nil, err
		}
		items = append(items, page.Items...)
	}
	return items, nil
}

// decodeCBORSplit is the CBOR peer of decodeJSONLazy: each page checked and
// its items split, as raw CBOR, each to be decoded when looked at.
func decodeCBORSplit(pages [][]byte) (int, error) {
	n := 0
	for _, p := range pages {
		var page struct {
			APIVersion string            `json:"apiVersion"`
			Kind       string            `json:"kind"`
			Metadata   metav1.ListMeta   `json:"metadata"`
			Items      []cbor.RawMessage `json:"items"`
		}
		if err := direct.Unmarshal(p, &page); err != nil {
			return 0, err
		}
		n += len(page.Items)
	}
	return n, nil
}

// BenchmarkCBOR10k compares JSON and CBOR for the same 10,000 ConfigMaps,
// interleaved in each round, and reports medians over the rounds:
//   - the wire floor of each (the pages fetched through k8sh's REST client,
//     bodies kept, nothing decoded): json-floor-ms and cbor-floor-ms for the
//     plain list, table-floor-ms for the Table with each row's object that
//     k8s.list reads, rows-floor-ms for the Table without objects; their
//     bytes (json-MB, cbor-MB, table-MB, rows-MB) and kube-apiserver's CPU
//     time for each (…-srv-cpu-ms);
//   - the decode of those bodies into what k8sh needs: json-lazy-ms
//     (k8s.list's check and split), json-whole-ms and cbor-whole-ms (every
//     item into maps, as a plain List decodes), cbor-split-ms (the CBOR
//     peer of the lazy split: items kept raw);
//   - end to end, fetch and decode: table-e2e-ms (k8s.list's read, lazy),
//     json-e2e-ms and cbor-e2e-ms (a plain List, whole), and
//     cbor+rows-e2e-ms (what k8s.list would need to use CBOR: the CBOR list
//     and the Table's rows, fetched side by side, the CBOR decoded whole).
func BenchmarkCBOR10k(b *testing.B) {
	env, total := cborEnv(b)
	ctx := context.Background()
	c := sandboxClient(b, env)
	rc, err := c.rawClient()
	if err != nil {
		b.Fatal(err)
	}
	pid, err := kubetest.APIServerPid(env)
	if err != nil {
		b.Fatal(err)
	}
	ns := kubetest.BenchNamespace
	fetch := func(accept string, params ...string) [][]byte {
		pages, err := fetchPages(ctx, rc, ns, accept, params...)
		if err != nil {
			b.Fatal(err)
		}
		return pages
	}
	got := map[string][]cborSample{}
	timed := func(name string, f func()) {
		s0, c0, t := kubetest.ProcessCPU(pid), kubetest.SelfCPU(), time.Now()
		f()
		got[name] = append(got[name], cborSample{float64(time.Since(t)) / 1e6, float64(kubetest.ProcessCPU(pid)-s0) / 1e6, float64(kubetest.SelfCPU()-c0) / 1e6})
	}
	// Warm, and keep one of each kind of pages to decode.
	jsonPages, cborPages := fetch(acceptJSON), fetch(acceptCBOR)
	tablePages := fetch(acceptTable, "includeObject", "Object")
	rowsPages := fetch(acceptTable, "includeObject", "None")
	if n, err := decodeCBORSplit(cborPages); err != nil || n != total {
		b.Fatalf("CBOR pages: %d items, %v; want %d", n, err, total)
	}
	// The same objects both ways: what CBOR decodes to is what JSON does.
	fromJSON, err := decodeJSONWhole(jsonPages)
	if err != nil || len(fromJSON) != total {
		b.Fatalf("JSON pages: %d items, %v; want %d", len(fromJSON), err, total)
	}
	fromCBOR, err := decodeCBORWhole(cborPages)
	if err != nil {
		b.Fatal(err)
	}
	if d := cmp.Diff(fromJSON, fromCBOR); d != "" {
		b.Fatalf("the ConfigMaps read as CBOR differ from those read as JSON (-json +cbor):\n%s", d)
	}
	fromJSON, fromCBOR = nil, nil
	check := func(n int, err error) {
		if err != nil {
			b.Fatal(err)
		}
		if n != total {
			b.Fatalf("decoded %d items, want %d", n, total)
		}
	}
	b.ResetTimer()
	for range b.N {
		timed("json-floor", func() { jsonPages = fetch(acceptJSON) })
		timed("cbor-floor", func() { cborPages = fetch(acceptCBOR) })
		timed("table-floor", func() { tablePages = fetch(acceptTable, "includeObject", "Object") })
		timed("rows-floor", func() { rowsPages = fetch(acceptTable, "includeObject", "None") })

		timed("json-lazy", func() { check(decodeJSONLazy(jsonPages)) })
		timed("json-whole", func() { items, err := decodeJSONWhole(jsonPages); check(len(items), err) })
		timed("cbor-whole", func() { items, err := decodeCBORWhole(cborPages); check(len(items), err) })
		timed("cbor-split", func() { check(decodeCBORSplit(cborPages)) })

		timed("table-e2e", func() { check(decodeJSONLazy(fetch(acceptTable, "includeObject", "Object"))) })
		timed("json-e2e", func() { items, err := decodeJSONWhole(fetch(acceptJSON)); check(len(items), err) })
		timed("cbor-e2e", func() { items, err := decodeCBORWhole(fetch(acceptCBOR)); check(len(items), err) })
		timed("cbor+rows-e2e", func() {
			var wg sync.WaitGroup
			var rows [][]byte
			wg.Go(func() { rows = fetch(acceptTable, "includeObject", "None") })
			items, err := decodeCBORWhole(fetch(acceptCBOR))
			wg.Wait()
			check(len(items), err)
			if n, err := decodeJSONLazy(rows); err != nil || n != total {
				b.Fatalf("rows: %d, %v", n, err)
			}
		})
	}
	b.StopTimer()
	med := func(name string, part func(cborSample) float64) float64 {
		var xs []float64
		for _, s := range got[name] {
			xs = append(xs, part(s))
		}
		return kubetest.Median(xs)
	}
	wall := func(s cborSample) float64 { return s.ms }
	srv := func(s cborSample) float64 { return s.srv }
	cpu := func(s cborSample) float64 { return s.cpu }
	for _, name := range []string{"json-floor", "cbor-floor", "table-floor", "rows-floor"} {
		b.ReportMetric(med(name, wall), name+"-ms")
		b.ReportMetric(med(name, srv), strings.TrimSuffix(name, "-floor")+"-srv-cpu-ms")
	}
	b.ReportMetric(float64(sum(jsonPages))/1e6, "json-MB")
	b.ReportMetric(float64(sum(cborPages))/1e6, "cbor-MB")
	b.ReportMetric(float64(sum(tablePages))/1e6, "table-MB")
	b.ReportMetric(float64(sum(rowsPages))/1e6, "rows-MB")
	for _, name := range []string{"json-lazy", "json-whole", "cbor-whole", "cbor-split"} {
		b.ReportMetric(med(name, cpu), name+"-cpu-ms")
	}
	for _, name := range []string{"table-e2e", "json-e2e", "cbor-e2e", "cbor+rows-e2e"} {
		b.ReportMetric(med(name, wall), name+"-ms")
		b.ReportMetric(med(name, cpu)+med(name, srv), name+"-cpu-ms")
	}
	b.ReportMetric(med("cbor-floor", wall)/med("json-floor", wall), "cbor/json-floor")
	b.ReportMetric(med("cbor-whole", cpu)/med("json-whole", cpu), "cbor/json-whole")
	b.ReportMetric(med("cbor-e2e", wall)/med("json-e2e", wall), "cbor/json-e2e")
	b.ReportMetric(med("cbor+rows-e2e", wall)/med("table-e2e", wall), "cbor+rows/table-e2e")
	b.ReportMetric(0, "ns/op")
	load, _ := os.ReadFile("/proc/loadavg")
	var rounds strings.Builder
	for _, name := range slices.Sorted(maps.Keys(got)) {
		fmt.Fprintf(&rounds, "; %s", name)
		for _, s := range got[name] {
			fmt.Fprintf(&rounds, " %.0f/%.0f/%.0f", s.ms, s.srv, s.cpu)
		}
	}
	b.Logf("load average %s; %d pages; rounds (wall/apiserver CPU/k8sh CPU, ms)%s", strings.Fields(string(load))[0], len(jsonPages), rounds.String())
}

// cborSample is one measure of BenchmarkCBOR10k: the wall time,
// kube-apiserver's CPU time and this process's, in milliseconds.
type cborSample struct{ ms, srv, cpu float64 }

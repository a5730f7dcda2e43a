package builtins

import (
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
)

// BenchmarkPrintParts10k splits k8s.print(k8s.list("cm", namespace=...))
// of the 10,000 ConfigMaps into its parts, in each round: list-ms, the
// k8s.list (the Table pages and their split), and print-ms, the k8s.print
// of the list already read (the table printer and the write through the
// thread's print).
func BenchmarkPrintParts10k(b *testing.B) {
	env := benchSandbox(b)
	thread := benchThread(benchClient(b, env))
	var out strings.Builder
	thread.Print = func(_ *starlark.Thread, s string) { out.WriteString(s); out.WriteByte('\n') }
	print := func(cms *starlark.List) {
		out.Reset()
		if _, err := starlark.Call(thread, K8s.Members["print"], starlark.Tuple{cms}, nil); err != nil {
			b.Fatal(err)
		}
		if n := strings.Count(out.String(), "\n"); n != benchTotal+1 {
			b.Fatalf("printed %d lines, want %d", n, benchTotal+1)
		}
	}
	cms, err := k8shList(thread, "")
	if err != nil {
		b.Fatal(err)
	}
	print(cms) // warm
	var list, prt []float64
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	b.ResetTimer()
	for range b.N {
		t := time.Now()
		cms, err := k8shList(thread, "")
		if err != nil {
			b.Fatal(err)
		}
		list = append(list, ms(time.Since(t)))
		t = time.Now()
		print(cms)
		prt = append(prt, ms(time.Since(t)))
	}
	b.StopTimer()
	b.ReportMetric(median(list), "list-ms")
	b.ReportMetric(median(prt), "print-ms")
	b.ReportMetric(0, "ns/op")
}

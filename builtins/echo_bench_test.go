package builtins

import (
	"strings"
	"testing"
)

// BenchmarkEcho10k times what the REPL does for
// `k8s.list("cm", namespace="k8sh-bench")`: the read of the 10,000
// ConfigMaps and the echo of their kubectl get table.
func BenchmarkEcho10k(b *testing.B) {
	env := benchSandbox(b)
	thread := benchThread(benchClient(b, env))
	echo := func() {
		cms, err := k8shList(thread, "")
		if err != nil {
			b.Fatal(err)
		}
		if n := strings.Count(Echo(thread, cms), "\n"); n != benchTotal {
			b.Fatalf("the echo has %d lines, want %d", n+1, benchTotal+1)
		}
	}
	echo() // warm: connection, discovery
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		echo()
	}
}

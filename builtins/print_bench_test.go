package builtins

// k8s.print of the 10,000 ConfigMaps against kubectl get (issue 21):
//
//	K8SH_SANDBOX_KUBECONFIG=$PWD/.cache/sandbox/kubeconfig \
//	  go test -run '^$' -bench Print10k -benchtime 5x ./builtins/

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// runCPU runs a command with stdout to /dev/null and returns its wall time
// and its CPU time (user and system, as the rusage of a child that has
// ended gives it).
func runCPU(b *testing.B, name string, args ...string) (time.Duration, time.Duration) {
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return time.Since(start), cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
}

// BenchmarkPrint10k times k8s.print(k8s.list("cm", namespace=...)) of the
// 10,000 ConfigMaps against kubectl get cm, interleaved in each round, and
// reports medians over the rounds:
//   - in process: list-ms, the k8s.list (the Table pages and their split),
//     and print-ms, the k8s.print of the list read (table printer, write);
//   - as processes, `k8sh -c 'k8s.print(...)'` and `kubectl get cm`:
//     their wall time (k8sh-proc-ms, kubectl-ms) and its ratio, and the
//     CPU time each costs: its own (…-cpu-ms) and kube-apiserver's while
//     it ran (…-srv-cpu-ms), and the ratio of their sums (cpu-ratio).
//
// On a machine shared with other work the wall times follow the load;
// the CPU times much less: with the cores busy, the wall time of a read
// goes as the CPU time it needs, server's and client's.
func BenchmarkPrint10k(b *testing.B) {
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
	pid, err := kubetest.APIServerPid(env)
	if err != nil {
		b.Fatal(err)
	}
	kubectl := env.Kubectl(b).Bin // the sandbox's, of the same version as the server
	bin := k8shBinary(b)
	cacheDir := b.TempDir()
	kubectlArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "get", "cm", "-n", benchNamespace}
	k8shArgs := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-c",
		fmt.Sprintf("k8s.print(k8s.list(\"cm\", namespace=%q))", benchNamespace)}

	cms, err := k8shList(thread, "")
	if err != nil {
		b.Fatal(err)
	}
	print(cms) // warm: connections, discovery (and the processes' cache)
	runCPU(b, kubectl, kubectlArgs...)
	runCPU(b, bin, k8shArgs...)

	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	var list, prt, proc, kget, procCPU, kgetCPU, procSrv, kgetSrv []float64
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

		s0 := kubetest.ProcessCPU(pid)
		wall, cpu := runCPU(b, bin, k8shArgs...)
		proc, procCPU, procSrv = append(proc, ms(wall)), append(procCPU, ms(cpu)), append(procSrv, ms(kubetest.ProcessCPU(pid)-s0))
		s0 = kubetest.ProcessCPU(pid)
		wall, cpu = runCPU(b, kubectl, kubectlArgs...)
		kget, kgetCPU, kgetSrv = append(kget, ms(wall)), append(kgetCPU, ms(cpu)), append(kgetSrv, ms(kubetest.ProcessCPU(pid)-s0))
	}
	b.StopTimer()
	b.ReportMetric(kubetest.Median(list), "list-ms")
	b.ReportMetric(kubetest.Median(prt), "print-ms")
	b.ReportMetric(kubetest.Median(proc), "k8sh-proc-ms")
	b.ReportMetric(kubetest.Median(kget), "kubectl-ms")
	b.ReportMetric(kubetest.Median(proc)/kubetest.Median(kget), "proc/kubectl")
	b.ReportMetric(kubetest.Median(procCPU), "k8sh-cpu-ms")
	b.ReportMetric(kubetest.Median(procSrv), "k8sh-srv-cpu-ms")
	b.ReportMetric(kubetest.Median(kgetCPU), "kubectl-cpu-ms")
	b.ReportMetric(kubetest.Median(kgetSrv), "kubectl-srv-cpu-ms")
	b.ReportMetric((kubetest.Median(procCPU)+kubetest.Median(procSrv))/(kubetest.Median(kgetCPU)+kubetest.Median(kgetSrv)), "cpu-ratio")
	b.ReportMetric(0, "ns/op")
	b.Logf("load average %s; rounds (ms): list %.0f print %.0f k8sh %.0f kubectl %.0f; CPU k8sh %.0f+%.0f kubectl %.0f+%.0f",
		load1(), list, prt, proc, kget, procCPU, procSrv, kgetCPU, kgetSrv)
}

package builtins

// k8s.iter over 50,000 ConfigMaps, paged list against streaming list
// (issue 21, KEP-3157), interleaved:
//
//	K8SH_SANDBOX_KUBECONFIG=$PWD/.cache/sandbox/kubeconfig \
//	  go test -run '^$' -bench IterWatchList50k -benchtime 3x ./builtins/
//
// Each round runs two k8sh processes, `for o in k8s.iter("cm",
// namespace=...): n += 1` over kubetest.Bench50k's namespace, one reading
// pages (K8SH_WATCHLIST=0) and one a streaming list (the default), in
// turn first; for each it takes the wall time, the process's peak RSS
// (/usr/bin/time), and the sandbox kube-apiserver's own: its VmRSS
// sampled every 5 ms during the run, less its VmRSS just before, and the
// CPU time it spent (/proc/PID/stat utime+stime) during the run. The
// medians over the rounds are reported. Measured in the first -count of a
// go test run only.

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// sandboxPID is the pid of the sandbox component called name, from the
// state file beside its kubeconfig.
func sandboxPID(b *testing.B, env *kubetest.Env, name string) int {
	pid, err := kubetest.ComponentPid(env, name)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, kubetest.ErrNoComponent) {
		b.Skipf("no %s in the sandbox state: %v", name, err)
	}
	if err != nil {
		b.Fatal(err)
	}
	return pid
}

// procRSS is a process's VmRSS in bytes (0 when it cannot be read).
func procRSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// rssSampler samples a process's VmRSS every 5 ms until stopped, and
// keeps the highest.
type rssSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	max  int64
}

func sampleRSS(pid int) *rssSampler {
	s := &rssSampler{stop: make(chan struct{}), max: procRSS(pid)}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if r := procRSS(pid); r > s.max {
				s.max = r
			}
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) peak() int64 {
	close(s.stop)
	s.done.Wait()
	return s.max
}

func BenchmarkIterWatchList50k(b *testing.B) {
	onceAcrossCounts(b)
	env, total := kubetest.Bench50k(b)
	api := sandboxPID(b, env, "kube-apiserver")
	bin := k8shBinary(b)
	cacheDir := b.TempDir()
	src := fmt.Sprintf("n = 0\nfor o in k8s.iter(\"cm\", namespace=%q):\n    n += 1\nif n != %d: fail(n)", kubetest.Bench50kNamespace, total)
	args := []string{"--kubeconfig", env.Kubeconfig, "--context", "sandbox", "--cache-dir", cacheDir, "-c", src}
	paged := append(os.Environ(), "K8SH_WATCHLIST=0")
	stream := append(os.Environ(), "K8SH_WATCHLIST=1")
	// Warm: discovery, the page cache, the apiserver's watch cache.
	runProcess(b, paged, bin, args...)
	runProcess(b, stream, bin, args...)

	type figures struct{ ms, rss, apiRSS, apiCPU []float64 }
	var fp, fs figures
	run := func(env []string, f *figures) {
		before, cpu := procRSS(api), kubetest.ProcessCPU(api)
		s := sampleRSS(api)
		d, rss := runProcess(b, env, bin, args...)
		peak := s.peak()
		f.ms = append(f.ms, float64(d.Milliseconds()))
		f.rss = append(f.rss, float64(rss)/1e6)
		f.apiRSS = append(f.apiRSS, float64(peak-before)/1e6)
		f.apiCPU = append(f.apiCPU, float64((kubetest.ProcessCPU(api) - cpu).Milliseconds()))
	}
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			run(paged, &fp)
			run(stream, &fs)
		} else {
			run(stream, &fs)
			run(paged, &fp)
		}
	}
	b.StopTimer()
	b.ReportMetric(kubetest.Median(fp.ms), "paged-ms")
	b.ReportMetric(kubetest.Median(fs.ms), "stream-ms")
	b.ReportMetric(kubetest.Median(fs.ms)/kubetest.Median(fp.ms), "stream/paged")
	b.ReportMetric(kubetest.Median(fp.rss), "paged-rss-MB")
	b.ReportMetric(kubetest.Median(fs.rss), "stream-rss-MB")
	b.ReportMetric(kubetest.Median(fp.apiRSS), "paged-api-rss+MB")
	b.ReportMetric(kubetest.Median(fs.apiRSS), "stream-api-rss+MB")
	b.ReportMetric(kubetest.Median(fp.apiCPU), "paged-api-cpu-ms")
	b.ReportMetric(kubetest.Median(fs.apiCPU), "stream-api-cpu-ms")
	b.Logf("load %s; rounds: paged ms %v rss %v api+ %v api-cpu %v; stream ms %v rss %v api+ %v api-cpu %v",
		load1(), fp.ms, fp.rss, fp.apiRSS, fp.apiCPU, fs.ms, fs.rss, fs.apiRSS, fs.apiCPU)
}

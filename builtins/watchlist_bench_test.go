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
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
	data, err := os.ReadFile(filepath.Join(filepath.Dir(env.Kubeconfig), "state.json"))
	if err != nil {
		b.Skipf("no sandbox state beside the kubeconfig: %v", err)
	}
	var st struct {
		Components []struct {
			Name string `json:"name"`
			PID  int    `json:"pid"`
		} `json:"components"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		b.Fatal(err)
	}
	for _, c := range st.Components {
		if c.Name == name {
			return c.PID
		}
	}
	b.Skipf("no %s in the sandbox state", name)
	return 0
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

// procCPU is a process's user and system time so far.
func procCPU(pid int) time.Duration {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command's name, which ends with ")".
	f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
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
		before, cpu := procRSS(api), procCPU(api)
		s := sampleRSS(api)
		d, rss := runProcess(b, env, bin, args...)
		peak := s.peak()
		f.ms = append(f.ms, float64(d.Milliseconds()))
		f.rss = append(f.rss, float64(rss)/1e6)
		f.apiRSS = append(f.apiRSS, float64(peak-before)/1e6)
		f.apiCPU = append(f.apiCPU, float64((procCPU(api) - cpu).Milliseconds()))
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
	b.ReportMetric(median(fp.ms), "paged-ms")
	b.ReportMetric(median(fs.ms), "stream-ms")
	b.ReportMetric(median(fs.ms)/median(fp.ms), "stream/paged")
	b.ReportMetric(median(fp.rss), "paged-rss-MB")
	b.ReportMetric(median(fs.rss), "stream-rss-MB")
	b.ReportMetric(median(fp.apiRSS), "paged-api-rss+MB")
	b.ReportMetric(median(fs.apiRSS), "stream-api-rss+MB")
	b.ReportMetric(median(fp.apiCPU), "paged-api-cpu-ms")
	b.ReportMetric(median(fs.apiCPU), "stream-api-cpu-ms")
	b.Logf("load %s; rounds: paged ms %v rss %v api+ %v api-cpu %v; stream ms %v rss %v api+ %v api-cpu %v",
		load1(), fp.ms, fp.rss, fp.apiRSS, fp.apiCPU, fs.ms, fs.rss, fs.apiRSS, fs.apiCPU)
}

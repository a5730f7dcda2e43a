package builtins

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// startupMinRuns is how many runs of each program BenchmarkStartup makes
// at least, whatever b.N, for its median and p90 to mean something.
const startupMinRuns = 30

// BenchmarkStartup times `k8sh -c 'print(1)'` as a process, with no
// kubeconfig (KUBECONFIG names a file that does not exist), against its
// floor in the same run: a Go program that prints 1, which is what
// starting and ending any Go process costs on this machine under the same
// load. The two run one after the other, max(b.N, startupMinRuns) times
// each, so that a burst of load from elsewhere hits both. ns/op is k8sh's
// median wall time; it reports also:
//
//	p90-ms     k8sh's 90th percentile wall time
//	cpu-ms     k8sh's median CPU time (user + system), steadier than wall
//	           time on a shared machine
//	minflt     k8sh's median minor page faults
//	floor-ms   the floor program's median wall time
//	init-ms    package init (GODEBUG=inittrace=1: the sum of every
//	           package's init clock), median of 5 traced runs
//	init-MB    bytes those inits allocate
//	init-gcs   collections that ran during a traced run (GODEBUG=gctrace=1):
//	           0 since internal/initgc
//
// With K8SH_STARTUP_BASELINE naming another k8sh binary (main's, say), it
// runs that one too, in the same rounds, and reports base-ms, base-cpu-ms
// and base-minflt. Every binary is copied into a new file before it runs:
// the page cache holds a file the linker wrote in other folios than a
// copied one, and the same bytes then fault up to 20% more.
//
// One command (about 15 s):
//
//	go test -run '^$' -bench Startup -benchtime 1x ./builtins/
//
// Old against new:
//
//	(cd /path/to/a/checkout/of/main && go build -o /tmp/k8sh.main .)
//	K8SH_STARTUP_BASELINE=/tmp/k8sh.main go test -run '^$' -bench Startup -benchtime 100x ./builtins/
func BenchmarkStartup(b *testing.B) {
	if testing.Short() {
		b.Skip("builds k8sh (run without -short)")
	}
	root, err := kubetest.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	built := filepath.Join(dir, "k8sh-built")
	goBuild(b, root, built, ".")
	bin := copyBinary(b, built, filepath.Join(dir, "k8sh"))
	var base string
	if p := os.Getenv("K8SH_STARTUP_BASELINE"); p != "" {
		base = copyBinary(b, p, filepath.Join(dir, "k8sh-baseline"))
	}
	floorDir := filepath.Join(dir, "floor")
	if err := os.Mkdir(floorDir, 0o755); err != nil {
		b.Fatal(err)
	}
	for name, text := range map[string]string{
		"go.mod":  "module floor\n",
		"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(1) }\n",
	} {
		if err := os.WriteFile(filepath.Join(floorDir, name), []byte(text), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	floorBuilt := filepath.Join(dir, "floor-built")
	goBuild(b, floorDir, floorBuilt, ".")
	floor := copyBinary(b, floorBuilt, filepath.Join(dir, "floor-bin"))

	env := append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "nonexistent"))
	run := func(path string, extraEnv ...string) startupRun {
		cmd := exec.Command(path, "-c", "print(1)")
		cmd.Env = append(env, extraEnv...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		r := startupRun{wall: time.Since(start), stderr: stderr.Bytes()}
		if err != nil || stdout.String() != "1\n" {
			b.Fatalf("%s -c 'print(1)': %v: %q %s", path, err, stdout.String(), stderr.Bytes())
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
			r.minflt = float64(ru.Minflt)
		}
		return r
	}
	run(bin) // warm: page cache
	run(floor)
	if base != "" {
		run(base)
	}

	var initMs, initMB, gcs []float64
	for range 5 {
		r := run(bin, "GODEBUG=inittrace=1,gctrace=1")
		ms, bytes, n := parseTraces(b, r.stderr)
		initMs, initMB, gcs = append(initMs, ms), append(initMB, bytes/1e6), append(gcs, float64(n))
	}

	n := max(b.N, startupMinRuns)
	var wall, cpu, minflt, floorWall, baseWall, baseCPU, baseMinflt []float64
	b.ResetTimer()
	for i := range n {
		if base != "" && i%2 == 1 { // the baseline first every other round
			r := run(base)
			baseWall, baseCPU, baseMinflt = append(baseWall, float64(r.wall)/1e6), append(baseCPU, float64(r.cpu)/1e6), append(baseMinflt, r.minflt)
		}
		r := run(bin)
		wall = append(wall, float64(r.wall)/1e6)
		cpu = append(cpu, float64(r.cpu)/1e6)
		minflt = append(minflt, r.minflt)
		floorWall = append(floorWall, float64(run(floor).wall)/1e6)
		if base != "" && i%2 == 0 {
			r := run(base)
			baseWall, baseCPU, baseMinflt = append(baseWall, float64(r.wall)/1e6), append(baseCPU, float64(r.cpu)/1e6), append(baseMinflt, r.minflt)
		}
	}
	b.StopTimer()
	b.ReportMetric(quantile(wall, 0.5)*1e6, "ns/op")
	b.ReportMetric(quantile(wall, 0.9), "p90-ms")
	b.ReportMetric(quantile(cpu, 0.5), "cpu-ms")
	b.ReportMetric(quantile(minflt, 0.5), "minflt")
	b.ReportMetric(quantile(floorWall, 0.5), "floor-ms")
	b.ReportMetric(quantile(initMs, 0.5), "init-ms")
	b.ReportMetric(quantile(initMB, 0.5), "init-MB")
	b.ReportMetric(quantile(gcs, 0.5), "init-gcs")
	if base != "" {
		b.ReportMetric(quantile(baseWall, 0.5), "base-ms")
		b.ReportMetric(quantile(baseCPU, 0.5), "base-cpu-ms")
		b.ReportMetric(quantile(baseMinflt, 0.5), "base-minflt")
	}
}

// copyBinary copies the executable src to dst (see BenchmarkStartup) and
// returns dst.
func copyBinary(b *testing.B, src, dst string) string {
	b.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o755); err != nil {
		b.Fatal(err)
	}
	return dst
}

// startupRun is one process's figures.
type startupRun struct {
	wall, cpu time.Duration
	minflt    float64
	stderr    []byte
}

// goBuild builds the main package pkg of the module in dir into out.
func goBuild(b *testing.B, dir, out, pkg string) {
	b.Helper()
	build := exec.Command("go", "build", "-o", out, pkg)
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build in %s: %v\n%s", dir, err, out)
	}
}

// parseTraces reads GODEBUG=inittrace=1,gctrace=1 output: the sum of the
// packages' init clocks in ms, the bytes they allocated, and how many
// collections ran. An init line is
//
//	init k8s.io/api/core/v1 @6.5 ms, 0.15 ms clock, 99976 bytes, 553 allocs
func parseTraces(b *testing.B, stderr []byte) (ms, bytes float64, gcs int) {
	b.Helper()
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(stderr)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) >= 9 && f[0] == "init" && f[6] == "clock,":
			c, err1 := strconv.ParseFloat(f[4], 64)
			n, err2 := strconv.ParseFloat(f[7], 64)
			if err1 != nil || err2 != nil {
				b.Fatalf("inittrace line %q", sc.Text())
			}
			ms += c
			bytes += n
			lines++
		case len(f) > 1 && f[0] == "gc":
			gcs++
		}
	}
	if lines == 0 {
		b.Fatalf("no inittrace lines in %q", stderr)
	}
	return ms, bytes, gcs
}

// quantile returns the q quantile of x (the nearest rank).
func quantile(x []float64, q float64) float64 {
	y := slices.Clone(x)
	slices.Sort(y)
	return y[int(q*float64(len(y)-1)+0.5)]
}

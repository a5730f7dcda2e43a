package builtins

// Watch throughput and a slow consumer (issue 21):
//
//	K8SH_SANDBOX_KUBECONFIG=$PWD/.cache/sandbox/kubeconfig \
//	  go test -run '^$' -bench 'WatchThroughput10k|WatchSlowConsumer10k' -benchtime 3x ./builtins/
//
// Each round changes every one of the 10,000 ConfigMaps of
// kubetest.BenchWatch's namespace once (a merge patch of one data key),
// from 32 writers without a client-side rate limit: as fast as the
// sandbox takes them.
//
// BenchmarkWatchThroughput10k: while they change, a Starlark loop `for ev
// in k8s.watch("cm", namespace=NS, initial=False)` in this process and
// `kubectl get cm -w --watch-only -o name` as a process both watch, in the
// same round; each one's clock stops at its 10,000th event. It reports the
// events per second each delivered (10,000 over the time from the first
// write to its last event), their ratio, and each one's lag after the last
// write; and k8sh-backlog-events/s, the pace of a k8s.watch loop called
// (listed) before the changes and read only after them, their events
// waiting in the server: k8sh's own ceiling, whatever the writers' pace.
//
// BenchmarkWatchSlowConsumer10k: two k8sh processes watch the same
// changes, one whose loop only counts, one whose loop burns tens of
// milliseconds of CPU on each event (far slower than the writers); it reports
// each one's VmRSS during the changes (sampled every 5 ms from
// /proc/PID/status: the peak, and its growth over the RSS the process had
// when its watch was open) and each one's events per second (the slow one
// is stopped 2 s after the fast one ends). A queue that grew with the
// backlog would show in the slow one's growth.
//
// The 10,000 changes take 10-30 s here, so one run of each is measured
// per `go test` (the -count repeats of make bench skip).

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

const watchBenchEvents, watchBenchWriters = 10000, 32

// watchRounds counts the rounds made in this process, to name each
// round's values.
var watchRounds atomic.Int64

// patchAll changes each of the watch bench's ConfigMaps once, with
// watchBenchWriters in parallel; it returns when the first write was sent
// and when the last one answered.
func patchAll(b *testing.B, cs kubernetes.Interface, tag string) (time.Time, time.Time) {
	names := make(chan int, watchBenchEvents)
	for i := range watchBenchEvents {
		names <- i
	}
	close(names)
	var wg sync.WaitGroup
	start := time.Now()
	for range watchBenchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				patch := fmt.Sprintf(`{"data":{"v":"%s:%d"}}`, tag, i)
				_, err := cs.CoreV1().ConfigMaps(kubetest.BenchWatchNamespace).Patch(context.Background(),
					fmt.Sprintf("bench-%05d", i), types.MergePatchType, []byte(patch), metav1.PatchOptions{})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return start, time.Now()
}

// probe changes the probe ConfigMap (the first one) to value, which each
// watcher waits for before the round starts.
func probe(b *testing.B, cs kubernetes.Interface, value string) {
	_, err := cs.CoreV1().ConfigMaps(kubetest.BenchWatchNamespace).Patch(context.Background(),
		"bench-00000", types.MergePatchType, []byte(`{"data":{"v":"`+value+`"}}`), metav1.PatchOptions{})
	if err != nil {
		b.Fatal(err)
	}
}

func unlimitedClientset(b *testing.B, env *kubetest.Env) kubernetes.Interface {
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: full speed
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return cs
}

// watchScript is a k8sh loop that prints "ready" at a probe's change
// (tag-probe-N), then counts the round's changes (tag:N) until
// watchBenchEvents, running burn on each, and prints "done"; burn is
// Starlark code, "" for none.
func watchScript(tag, burn string) string {
	return fmt.Sprintf(`
n = 0
started = False
for ev in k8s.watch("cm", namespace=%q, initial=False):
    v = ev.object.data.get("v", "")
    if not started:
        if v.startswith(%q):
            started = True
            print("ready")
        continue
    if not v.startswith(%q):
        continue
    n += 1
    %s
    if n == %d:
        print("done")
        break
`, kubetest.BenchWatchNamespace, tag+"-probe", tag+":", burn, watchBenchEvents)
}

// probeUntil changes the probe until ready is closed or receives (each
// time to another value: a patch that changes nothing makes no event).
func probeUntil(b *testing.B, cs kubernetes.Interface, tag string, ready <-chan struct{}, errc <-chan error) {
	for i := 0; ; i++ {
		probe(b, cs, fmt.Sprintf("%s-probe-%d", tag, i))
		select {
		case <-ready:
			return
		case err := <-errc:
			b.Fatalf("the k8sh loop ended: %v", err)
		case <-time.After(2 * time.Second): // not watching yet
		}
	}
}

// watchProc is a process that prints "ready" when its watch saw the probe
// and then something when it saw the round's last event.
type watchProc struct {
	cmd   *exec.Cmd
	lines *bufio.Scanner
	rss   string // /usr/bin/time's output file, when measured
}

func startWatchProc(b *testing.B, rss bool, name string, args ...string) *watchProc {
	p := &watchProc{}
	if rss {
		if _, err := os.Stat("/usr/bin/time"); err == nil {
			p.rss = filepath.Join(b.TempDir(), "rss")
			args = append([]string{"-f", "%M", "-o", p.rss, name}, args...)
			name = "/usr/bin/time"
		}
	}
	p.cmd = exec.Command(name, args...)
	p.cmd.Stderr = os.Stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	// Not left behind (a stopped one above all) by a benchmark that fails.
	b.Cleanup(func() { p.cmd.Process.Kill() }) //nolint:errcheck
	p.lines = bufio.NewScanner(out)
	return p
}

// waitLine waits for a line that want accepts, and returns when it came;
// when the process ends first, it fails b and returns the zero time (it
// runs on goroutines of its own: the benchmark's goroutine checks).
func (p *watchProc) waitLine(b *testing.B, want func(string) bool) time.Time {
	for p.lines.Scan() {
		if want(p.lines.Text()) {
			return time.Now()
		}
	}
	b.Errorf("%s %v ended before the line it waited for", p.cmd.Path, p.cmd.Args[1:min(len(p.cmd.Args), 8)])
	return time.Time{}
}

// lastLine counts the lines that count accepts and returns when the n-th
// came, or the zero time when the process ended first (it fails nothing),
// with how many it counted.
func (p *watchProc) lastLine(count func(string) bool, n int) (time.Time, int) {
	seen := 0
	for p.lines.Scan() {
		if count(p.lines.Text()) {
			if seen++; seen == n {
				return time.Now(), seen
			}
		}
	}
	return time.Time{}, seen
}

// peakRSS ends the process (if it has not ended) and returns its peak RSS
// in bytes (0 when unmeasured).
func (p *watchProc) end() int64 {
	if p.rss == "" {
		p.cmd.Process.Kill()
	}
	p.cmd.Wait()
	if p.rss == "" {
		return 0
	}
	var kb int64
	if data, err := os.ReadFile(p.rss); err == nil {
		fmt.Sscan(string(data), &kb)
	}
	return kb * 1024
}

// measuredOnce tells whether a benchmark already made its rounds in this
// process (a later -count), and marks it when b.N > 1 (the rounds of
// -benchtime Nx).
var measuredOnce sync.Map

func onceAcrossCounts(b *testing.B) {
	if _, done := measuredOnce.Load(b.Name()); done {
		b.Skip("measured once a go test run: its -count repeats would add minutes")
	}
	if b.N > 1 {
		measuredOnce.Store(b.Name(), true)
	}
}

func BenchmarkWatchThroughput10k(b *testing.B) {
	onceAcrossCounts(b)
	env := kubetest.BenchWatch(b)
	cs := unlimitedClientset(b, env)
	c := benchClient(b, env)
	kubectl := env.Kubectl(b).Bin
	var k8shRate, kubectlRate, writeRate, k8shLag, kubectlLag, backlogRate, kubectlBacklogRate, kubectlBacklogSeen []float64
	for range b.N {
		tag := fmt.Sprintf("r%d-%d", os.Getpid(), watchRounds.Add(1))
		ready := make(chan struct{}, 1)
		done := make(chan time.Time, 1)
		thread := &starlark.Thread{Name: "bench", Print: func(_ *starlark.Thread, msg string) {
			switch msg {
			case "ready":
				ready <- struct{}{}
			case "done":
				done <- time.Now()
			}
		}}
		SetSession(thread, &Session{Cluster: c})
		sys.SetContext(thread, context.Background())
		errc := make(chan error, 1)
		go func() {
			_, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", watchScript(tag, ""), Globals(nil))
			errc <- err
		}()
		probeUntil(b, cs, tag, ready, errc)
		// And a watch opened (listed) now but read only once the changes
		// are made: its events wait in the server, and its loop's pace is
		// k8sh's own ceiling.
		backlog := backlogWatch(b, c, tag)
		// Then kubectl, reading as it comes.
		kp := startWatchProc(b, false, kubectl, "--kubeconfig", env.Kubeconfig, "--context", "sandbox",
			"get", "cm", "-w", "--watch-only", "-o", "name", "-n", kubetest.BenchWatchNamespace)
		// And a second kubectl, stopped (SIGSTOP) while the changes are
		// made and let go after: its pace through the backlog is kubectl's
		// own ceiling, beside k8sh's.
		kb := startWatchProc(b, false, kubectl, "--kubeconfig", env.Kubeconfig, "--context", "sandbox",
			"get", "cm", "-w", "--watch-only", "-o", "name", "-n", kubetest.BenchWatchNamespace)
		kready := make(chan struct{})
		go func() {
			kp.waitLine(b, func(l string) bool { return l == "configmap/bench-00000" })
			kb.waitLine(b, func(l string) bool { return l == "configmap/bench-00000" })
			close(kready)
		}()
		probeUntil(b, cs, tag, kready, nil)
		if b.Failed() {
			kp.end()
			kb.end()
			b.FailNow()
		}
		// Each kubectl counts the round's changes of every ConfigMap but
		// the probe (bench-00000, changed again until both saw it): -o
		// name does not tell the probe's changes from the round's.
		notProbe := func(l string) bool { return l != "configmap/bench-00000" }
		kdone := make(chan time.Time, 1)
		go func() {
			end, seen := kp.lastLine(notProbe, watchBenchEvents-1)
			if end.IsZero() {
				b.Errorf("kubectl's watch ended after %d of the round's %d events", seen, watchBenchEvents-1)
			}
			kdone <- end
		}()
		if err := kb.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			b.Fatal(err)
		}
		type kbResult struct {
			end  time.Time
			seen int
		}
		kbLast := make(chan kbResult, 1)
		go func() {
			end, seen := kb.lastLine(notProbe, watchBenchEvents-1)
			kbLast <- kbResult{end, seen}
		}()
		first, last := patchAll(b, cs, tag)
		kend := <-kdone
		if kend.IsZero() {
			b.FailNow() // kubectl's watch ended (said above)
		}
		// The script ends after it printed "done" (its time is end), or
		// before, with an error.
		err := <-errc
		var end time.Time
		select {
		case end = <-done:
		default:
			b.Fatalf("the k8sh loop ended early: %v", err)
		}
		if err != nil {
			b.Fatal(err)
		}
		kp.end()
		close(backlog.go_) // now, not to compete with the two above
		EndSession(thread)
		backlogRate = append(backlogRate, watchBenchEvents/backlog.wait(b).Seconds())
		// Then the stopped kubectl, alone.
		cont := time.Now()
		if err := kb.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			b.Fatal(err)
		}
		r := <-kbLast
		kubectlBacklogSeen = append(kubectlBacklogSeen, float64(r.seen))
		if !r.end.IsZero() {
			kubectlBacklogRate = append(kubectlBacklogRate, (watchBenchEvents-1)/r.end.Sub(cont).Seconds())
		}
		kb.end()
		k8shRate = append(k8shRate, watchBenchEvents/end.Sub(first).Seconds())
		kubectlRate = append(kubectlRate, (watchBenchEvents-1)/kend.Sub(first).Seconds())
		writeRate = append(writeRate, watchBenchEvents/last.Sub(first).Seconds())
		k8shLag = append(k8shLag, float64(end.Sub(last).Milliseconds()))
		kubectlLag = append(kubectlLag, float64(kend.Sub(last).Milliseconds()))
	}
	b.ReportMetric(kubetest.Median(writeRate), "writes/s")
	b.ReportMetric(kubetest.Median(k8shRate), "k8sh-events/s")
	b.ReportMetric(kubetest.Median(kubectlRate), "kubectl-events/s")
	b.ReportMetric(kubetest.Median(k8shRate)/kubetest.Median(kubectlRate), "k8sh/kubectl")
	b.ReportMetric(kubetest.Median(k8shLag), "k8sh-lag-ms")
	b.ReportMetric(kubetest.Median(kubectlLag), "kubectl-lag-ms")
	b.ReportMetric(kubetest.Median(backlogRate), "k8sh-backlog-events/s")
	// The stopped kubectl: the events it showed once let go, and its pace
	// in the rounds where it showed them all. The apiserver closes a watch
	// whose client falls too far behind; kubectl get -w then exits, where
	// k8s.watch resumes from the last event it delivered.
	b.ReportMetric(kubetest.Median(kubectlBacklogSeen), "kubectl-backlog-seen")
	if len(kubectlBacklogRate) > 0 {
		b.ReportMetric(kubetest.Median(kubectlBacklogRate), "kubectl-backlog-events/s")
	}
	b.Logf("load %s; rounds: writes/s %v k8sh/s %v kubectl/s %v; backlog: k8sh/s %v, kubectl saw %v of %d (events/s %v when all)",
		load1(), writeRate, k8shRate, kubectlRate, backlogRate, kubectlBacklogSeen, watchBenchEvents-1, kubectlBacklogRate)
}

// backlogRun is a k8s.watch called before a round's changes and read
// after them.
type backlogRun struct {
	go_  chan struct{} // closed when the changes are made
	took chan time.Duration
	errc chan error
}

func backlogWatch(b *testing.B, c Cluster, tag string) *backlogRun {
	r := &backlogRun{go_: make(chan struct{}), took: make(chan time.Duration, 1), errc: make(chan error, 1)}
	listed := make(chan struct{})
	var start time.Time
	pre := Globals(nil)
	pre["listed"] = starlark.NewBuiltin("listed", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		close(listed)
		<-r.go_
		start = time.Now()
		return starlark.None, nil
	})
	thread := &starlark.Thread{Name: "backlog", Print: func(_ *starlark.Thread, msg string) {
		if msg == "done" {
			r.took <- time.Since(start)
		}
	}}
	SetSession(thread, &Session{Cluster: c})
	sys.SetContext(thread, context.Background())
	src := fmt.Sprintf(`
w = k8s.watch("cm", namespace=%q, initial=False)
listed()
n = 0
for ev in w:
    if ev.object.data.get("v", "").startswith(%q):
        n += 1
        if n == %d:
            print("done")
            break
`, kubetest.BenchWatchNamespace, tag+":", watchBenchEvents)
	go func() {
		_, err := starlark.ExecFileOptions(starOptions, thread, "backlog.star", src, pre)
		EndSession(thread)
		r.errc <- err
	}()
	select {
	case <-listed:
	case err := <-r.errc:
		b.Fatalf("the backlog loop: %v", err)
	}
	return r
}

// wait returns how long the loop took for the round's events, once read.
func (r *backlogRun) wait(b *testing.B) time.Duration {
	d := <-r.took
	if err := <-r.errc; err != nil {
		b.Fatal(err)
	}
	return d
}

func BenchmarkWatchSlowConsumer10k(b *testing.B) {
	onceAcrossCounts(b)
	env := kubetest.BenchWatch(b)
	cs := unlimitedClientset(b, env)
	bin := k8shBinary(b)
	cacheDir := b.TempDir()
	// Tens of milliseconds of Starlark an event here, far slower than the
	// writers (both paces are reported).
	const burn = "for _ in range(2000000): pass\n    if n % 10 == 0: print(\"n\", n)"
	var fastRSS, slowRSS, fastGrow, slowGrow, fastRate, slowRate, writeRate []float64
	for range b.N {
		tag := fmt.Sprintf("s%d-%d", os.Getpid(), watchRounds.Add(1))
		run := func(burn string) *watchProc {
			return startWatchProc(b, false, bin, "--kubeconfig", env.Kubeconfig, "--context", "sandbox",
				"--cache-dir", cacheDir, "-c", watchScript(tag, burn))
		}
		fast, slow := run(""), run(burn)
		var wg sync.WaitGroup
		for _, p := range []*watchProc{fast, slow} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.waitLine(b, func(l string) bool { return l == "ready" })
			}()
		}
		readyAll := make(chan struct{})
		go func() { wg.Wait(); close(readyAll) }()
		probeUntil(b, cs, tag, readyAll, nil)
		if b.Failed() {
			b.FailNow()
		}
		// Their RSS from now on: the events' part.
		base := []int64{procRSS(fast.cmd.Process.Pid), procRSS(slow.cmd.Process.Pid)}
		fs, ss := sampleRSS(fast.cmd.Process.Pid), sampleRSS(slow.cmd.Process.Pid)
		fdone := make(chan time.Time, 1)
		go func() { fdone <- fast.waitLine(b, func(l string) bool { return l == "done" }) }()
		var slowSeen atomic.Int64
		go func() {
			for slow.lines.Scan() {
				var n int64
				if _, err := fmt.Sscanf(slow.lines.Text(), "n %d", &n); err == nil {
					slowSeen.Store(n)
				}
			}
		}()
		first, last := patchAll(b, cs, tag)
		fend := <-fdone
		if fend.IsZero() {
			b.FailNow()
		}
		time.Sleep(2 * time.Second) // the slow one, behind: still reading
		slowN, send := slowSeen.Load(), time.Now()
		fpeak, speak := fs.peak(), ss.peak()
		fast.end()
		slow.end()
		fastRSS = append(fastRSS, float64(fpeak)/1e6)
		slowRSS = append(slowRSS, float64(speak)/1e6)
		fastGrow = append(fastGrow, float64(fpeak-base[0])/1e6)
		slowGrow = append(slowGrow, float64(speak-base[1])/1e6)
		fastRate = append(fastRate, watchBenchEvents/fend.Sub(first).Seconds())
		slowRate = append(slowRate, float64(slowN)/send.Sub(first).Seconds())
		writeRate = append(writeRate, watchBenchEvents/last.Sub(first).Seconds())
	}
	b.ReportMetric(kubetest.Median(writeRate), "writes/s")
	b.ReportMetric(kubetest.Median(fastRate), "fast-events/s")
	b.ReportMetric(kubetest.Median(slowRate), "slow-events/s")
	b.ReportMetric(kubetest.Median(fastRSS), "fast-rss-MB")
	b.ReportMetric(kubetest.Median(slowRSS), "slow-rss-MB")
	b.ReportMetric(kubetest.Median(fastGrow), "fast-rss+MB")
	b.ReportMetric(kubetest.Median(slowGrow), "slow-rss+MB")
	b.Logf("load %s; rounds: fast rss %v (+%v) slow rss %v (+%v); fast/s %v slow/s %v writes/s %v",
		load1(), fastRSS, fastGrow, slowRSS, slowGrow, fastRate, slowRate, writeRate)
}

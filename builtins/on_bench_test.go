package builtins

// BenchmarkOnEvents500: how fast a handler sees events, against kubectl's
// watch, in one run:
//
//	go test -run '^$' -bench OnEvents500 -benchtime 3x -count 1 ./builtins/
//
// Each iteration makes a namespace, subscribes, then 16 writers create
// 500 ConfigMaps in it at full speed (no client rate limit), and the clock
// stops when the subscriber has seen the 500th. k8sh: k8s.on with a handler
// that counts and calls k8s.stop() at 500, under k8s.run. kubectl: `kubectl
// get cm -w -o name` as a process, its lines read as they come. It reports
// events/s (500 over the time from the first create to the last event
// seen) and lag-ms (from the last create's answer to the last event seen).

import (
	"bufio"
	"context"
	"fmt"
	"os/exec"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

const onBenchTotal, onBenchWriters = 500, 16

// createAll creates onBenchTotal ConfigMaps labelled b=on in ns with
// onBenchWriters in parallel, and returns when the last answered.
func createAll(b *testing.B, cs kubernetes.Interface, ns string) time.Time {
	names := make(chan int, onBenchTotal)
	for i := range onBenchTotal {
		names <- i
	}
	close(names)
	var wg sync.WaitGroup
	for range onBenchWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range names {
				_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("ev-%03d", i), Labels: map[string]string{"b": "on"}},
				}, metav1.CreateOptions{})
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	return time.Now()
}

func BenchmarkOnEvents500(b *testing.B) {
	env := kubetest.Sandbox(b)
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit: full speed
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	report := func(b *testing.B, elapsed, lag time.Duration) {
		b.ReportMetric(float64(onBenchTotal*b.N)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(lag.Milliseconds())/float64(b.N), "lag-ms")
	}

	k8sh := func(backlog bool) func(b *testing.B) {
		return func(b *testing.B) {
			c := benchClient(b, env)
			var elapsed, lag time.Duration
			for range b.N {
				ns := env.CreateNamespace(b)
				thread := &starlark.Thread{Name: "bench", Print: func(*starlark.Thread, string) {}}
				s := &Session{Cluster: c}
				SetSession(thread, s)
				sys.SetContext(thread, context.Background())
				// start() begins the creates once the handler is registered.
				var begin, created, end time.Time
				createdCh := make(chan time.Time, 1)
				pre := Globals(s)
				pre["start"] = starlark.NewBuiltin("start", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
					if backlog {
						// All made before k8s.run: their events wait for it.
						createdCh <- createAll(b, cs, ns)
						begin = time.Now()
						return starlark.None, nil
					}
					begin = time.Now()
					go func() { createdCh <- createAll(b, cs, ns) }()
					return starlark.None, nil
				})
				pre["seen_all"] = starlark.NewBuiltin("seen_all", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
					end = time.Now()
					return starlark.None, nil
				})
				src := fmt.Sprintf(`
seen = {"n": 0}
def count(ev):
    seen["n"] += 1
    if seen["n"] == %d:
        seen_all()
        k8s.stop()
h = k8s.on("cm", count, namespace=%q, selector="b=on", events="ADDED")
start()
k8s.run(timeout="120s")
`, onBenchTotal, ns)
				g, err := starlark.ExecFileOptions(starOptions, thread, "bench.star", src, pre)
				if err != nil {
					b.Fatal(err)
				}
				created = <-createdCh
				if h, _ := g["h"].(*handlerValue); h == nil || h.count.Load() != onBenchTotal {
					b.Fatalf("the handler saw %v", g["h"])
				}
				EndSession(thread)
				elapsed += end.Sub(begin)
				lag += end.Sub(created)
			}
			report(b, elapsed, lag)
		}
	}
	b.Run("k8sh", k8sh(false))
	b.Run("k8sh-backlog", k8sh(true))

	b.Run("kubectl", func(b *testing.B) {
		bin := env.Kubectl(b).Bin
		var elapsed, lag time.Duration
		for range b.N {
			ns := env.CreateNamespace(b)
			cmd := exec.Command(bin, "--kubeconfig", env.Kubeconfig, "--context", "sandbox", "get", "cm", "-w", "-o", "name", "-n", ns, "-l", "b=on")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			// kubectl lists first, then watches: wait until its watch is
			// open (a ConfigMap made now is seen), as k8s.on's is when it
			// returns.
			lines := bufio.NewScanner(out)
			probe := func() {
				_, err := cs.CoreV1().ConfigMaps(ns).Create(context.Background(), &corev1.ConfigMap{
					ObjectMeta: metav1.ObjectMeta{Name: "probe", Labels: map[string]string{"b": "on"}},
				}, metav1.CreateOptions{})
				if err != nil {
					b.Fatal(err)
				}
			}
			probe()
			if !lines.Scan() || lines.Text() != "configmap/probe" {
				b.Fatalf("kubectl printed %q", lines.Text())
			}
			var end time.Time
			done := make(chan int, 1)
			go func() {
				n := 0
				for n < onBenchTotal && lines.Scan() {
					n++
				}
				end = time.Now()
				done <- n
			}()
			start := time.Now()
			created := createAll(b, cs, ns)
			n := <-done
			cmd.Process.Kill()
			cmd.Wait()
			if n != onBenchTotal {
				b.Fatalf("kubectl printed %d names", n)
			}
			elapsed += end.Sub(start)
			lag += end.Sub(created)
		}
		report(b, elapsed, lag)
	})
}

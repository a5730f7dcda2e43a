package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// outage is a TCP proxy in front of the apiserver that can go away and come
// back on the same port: to a client it looks like an apiserver restart
// (every connection cut, then connections refused), without touching the
// shared sandbox. TestWatchSurvivesAPIServerRestartE2E restarts a real one.
type outage struct {
	t        *testing.T
	addr     string // where clients connect
	target   string
	mu       sync.Mutex
	ln       net.Listener
	conns    map[net.Conn]bool
	accepted int
}

func newOutage(t *testing.T, target string) *outage {
	o := &outage{t: t, target: target, conns: map[net.Conn]bool{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o.addr = ln.Addr().String()
	o.serve(ln)
	t.Cleanup(o.down)
	return o
}

func (o *outage) serve(ln net.Listener) {
	o.mu.Lock()
	o.ln = ln
	o.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", o.target)
			if err != nil {
				c.Close()
				continue
			}
			o.mu.Lock()
			o.accepted++
			o.conns[c], o.conns[up] = true, true
			o.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// down cuts every connection and refuses new ones.
func (o *outage) down() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.ln != nil {
		o.ln.Close()
		o.ln = nil
	}
	for c := range o.conns {
		c.Close()
		delete(o.conns, c)
	}
}

// up listens again on the same address.
func (o *outage) up() {
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		o.t.Fatal(err)
	}
	o.serve(ln)
}

// versionLog checks what a watch delivers of ConfigMaps whose data.v
// counts their versions: per object, increasing resourceVersions and each
// version once, in order.
type versionLog struct {
	t      *testing.T
	mu     sync.Mutex
	seen   map[string][]string
	lastRV map[string]uint64
}

func newVersionLog(t *testing.T) *versionLog {
	return &versionLog{t: t, seen: map[string][]string{}, lastRV: map[string]uint64{}}
}

func (l *versionLog) take(ev WatchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	name := ev.Object.GetName()
	rv, _ := strconv.ParseUint(ev.Object.GetResourceVersion(), 10, 64)
	if rv <= l.lastRV[name] {
		l.t.Errorf("%s %s at rv %d after rv %d", ev.Type, name, rv, l.lastRV[name])
	}
	l.lastRV[name] = rv
	data, _ := ev.Object.Object["data"].(map[string]any)
	l.seen[name] = append(l.seen[name], fmt.Sprint(data["v"]))
}

// complete tells whether every object's last version seen is final.
func (l *versionLog) complete(names []string, final int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, name := range names {
		s := l.seen[name]
		if len(s) == 0 || s[len(s)-1] != strconv.Itoa(final) {
			return false
		}
	}
	return true
}

// check reports every object that did not show versions 0 to final, each
// once, in order.
func (l *versionLog) check(names []string, final int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var want []string
	for v := 0; v <= final; v++ {
		want = append(want, strconv.Itoa(v))
	}
	for _, name := range names {
		if fmt.Sprint(l.seen[name]) != fmt.Sprint(want) {
			l.t.Errorf("%s: saw versions %v, want each of %v once, in order", name, l.seen[name], want)
		}
	}
}

func (l *versionLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return fmt.Sprint(l.seen)
}

// TestWatchSurvivesOutageE2E changes objects steadily while the
// connection to the apiserver is cut and refused for a while (through a
// proxy), and checks that the watch delivers every version of every object
// exactly once, in order.
func TestWatchSurvivesOutageE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	host := env.Config.Host // https://127.0.0.1:PORT
	u := host[len("https://"):]
	o := newOutage(t, u)
	server := "https://" + o.addr
	flags := NewConfigFlags()
	kc, ns, kctx, dir := env.Kubeconfig, env.Namespace, "sandbox", t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir, flags.APIServer = &kc, &ns, &kctx, &dir, &server
	c := NewClient(flags)
	ctx := context.Background()
	cms := env.Clientset.CoreV1().ConfigMaps(ns) // not through the proxy

	const objects, versions = 3, 30
	var names []string
	for i := 0; i < objects; i++ {
		names = append(names, "r"+strconv.Itoa(i))
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: names[i]}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Watch(ctx, "configmaps", WatchOptions{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	log := newVersionLog(t)
	for range objects {
		log.take(<-w.Events())
	}

	done := make(chan error, 1)
	go func() {
		for v := 1; v <= versions; v++ {
			if v == 10 {
				o.down() // the apiserver goes away...
			}
			if v == 20 {
				o.up() // ...and comes back
			}
			for _, name := range names {
				cm, err := cms.Get(ctx, name, metav1.GetOptions{})
				if err == nil {
					cm.Data["v"] = strconv.Itoa(v)
					_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
				}
				if err != nil {
					done <- err
					return
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
		done <- nil
	}()
	deadline := time.After(60 * time.Second)
	for !log.complete(names, versions) {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			log.take(ev)
		case <-deadline:
			t.Fatalf("not every version arrived: %v", log)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	o.mu.Lock()
	accepted := o.accepted
	o.mu.Unlock()
	if accepted < 2 {
		t.Errorf("%d connections through the proxy: the outage did not cut the watch", accepted)
	}
	t.Logf("%d connections through the proxy", accepted)
	log.check(names, versions)
}

// TestWatchSurvivesAPIServerRestartE2E restarts the kube-apiserver of a
// sandbox of its own in the middle of a watch while it keeps changing
// objects (retrying the writes while the server is away), and checks that
// the watch keeps going and delivers every version of every object exactly
// once, in order: none lost, none repeated.
func TestWatchSurvivesAPIServerRestartE2E(t *testing.T) {
	env := kubetest.PrivateSandbox(t)
	flags := NewConfigFlags()
	kc, ns, kctx, dir := env.Kubeconfig, env.Namespace, "sandbox", t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
	c := NewClient(flags)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cms := env.Clientset.CoreV1().ConfigMaps(ns)

	const objects = 3
	var names []string
	for i := 0; i < objects; i++ {
		names = append(names, "r"+strconv.Itoa(i))
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: names[i]}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Watch(ctx, "configmaps", WatchOptions{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	log := newVersionLog(t)
	watchEnded := make(chan struct{})
	go func() {
		defer close(watchEnded)
		for ev := range w.Events() {
			log.take(ev)
		}
	}()
	defer func() { w.Stop(); <-watchEnded }() // no log.take after the test

	// set writes version v of name, retrying (for up to a minute) while
	// the apiserver is away; an update that went through although its
	// answer was lost is not made again.
	var failedWrites atomic.Int64
	set := func(name string, v int) error {
		want := strconv.Itoa(v)
		deadline := time.Now().Add(time.Minute)
		for {
			err := func() error {
				ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				defer cancel()
				cm, err := cms.Get(ctx, name, metav1.GetOptions{})
				if err != nil || cm.Data["v"] == want {
					return err
				}
				cm.Data["v"] = want
				_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
				return err
			}()
			if err == nil {
				return nil
			}
			failedWrites.Add(1)
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("writing %s v=%s: %w", name, want, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	// The writer changes every object every 100 ms; after version 10 the
	// apiserver is restarted, and the writer goes on until 10 versions
	// after it is back.
	const before, after = 10, 10
	halfway, restarted := make(chan struct{}), make(chan struct{})
	type result struct {
		final int
		err   error
	}
	done := make(chan result, 1)
	go func() {
		left := -1
		for v := 1; ; v++ {
			for _, name := range names {
				if err := set(name, v); err != nil {
					done <- result{v, err}
					return
				}
			}
			if v == before {
				close(halfway)
			}
			if left < 0 {
				select {
				case <-restarted:
					left = after
				default:
				}
			}
			if left == 0 {
				done <- result{v, nil}
				return
			}
			if left > 0 {
				left--
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	select {
	case <-halfway:
	case r := <-done:
		t.Fatalf("writer stopped at version %d: %v", r.final, r.err)
	}
	kubetest.RestartAPIServer(t, env)
	close(restarted)
	r := <-done
	if r.err != nil {
		t.Fatalf("writer stopped at version %d: %v", r.final, r.err)
	}
	t.Logf("wrote versions 0 to %d of %d objects; %d writes failed and were retried", r.final, objects, failedWrites.Load())
	if failedWrites.Load() == 0 {
		t.Errorf("no write failed: the restart did not interrupt the apiserver")
	}

	deadline := time.Now().Add(60 * time.Second)
	for !log.complete(names, r.final) {
		select {
		case <-watchEnded:
			t.Fatalf("watch ended: %v (saw %v)", w.Err(), log)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every version arrived within a minute: %v", log)
		}
	}
	w.Stop()
	<-watchEnded
	log.check(names, r.final)
}

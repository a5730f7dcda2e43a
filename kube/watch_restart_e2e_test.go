package kube

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// outage is a TCP proxy in front of the apiserver that can go away and come
// back on the same port: to a client it looks like an apiserver restart
// (every connection cut, then connections refused), without touching the
// shared sandbox.
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

// TestWatchSurvivesRestartE2E changes objects steadily while the
// connection to the apiserver is cut and refused for a while, as in an
// apiserver restart, and checks that the watch delivers every version of
// every object exactly once, in order.
func TestWatchSurvivesRestartE2E(t *testing.T) {
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
	for i := 0; i < objects; i++ {
		_, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "r" + strconv.Itoa(i)}, Data: map[string]string{"v": "0"}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Watch(ctx, "configmaps", WatchOptions{Initial: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	seen := map[string][]string{}
	lastRV := map[string]uint64{}
	take := func(ev WatchEvent) {
		name := ev.Object.GetName()
		rv, _ := strconv.ParseUint(ev.Object.GetResourceVersion(), 10, 64)
		if rv <= lastRV[name] {
			t.Errorf("%s %s at rv %d after rv %d", ev.Type, name, rv, lastRV[name])
		}
		lastRV[name] = rv
		data, _ := ev.Object.Object["data"].(map[string]any)
		seen[name] = append(seen[name], fmt.Sprint(data["v"]))
	}
	for range objects {
		take(<-w.Events())
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
			for i := 0; i < objects; i++ {
				cm, err := cms.Get(ctx, "r"+strconv.Itoa(i), metav1.GetOptions{})
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
	complete := func() bool {
		for i := 0; i < objects; i++ {
			s := seen["r"+strconv.Itoa(i)]
			if len(s) == 0 || s[len(s)-1] != strconv.Itoa(versions) {
				return false
			}
		}
		return true
	}
	for !complete() {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch ended: %v", w.Err())
			}
			take(ev)
		case <-deadline:
			t.Fatalf("not every version arrived: %v", seen)
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
	var want []string
	for v := 0; v <= versions; v++ {
		want = append(want, strconv.Itoa(v))
	}
	for i := 0; i < objects; i++ {
		name := "r" + strconv.Itoa(i)
		if fmt.Sprint(seen[name]) != fmt.Sprint(want) {
			t.Errorf("%s: saw versions %v, want each of %v once, in order", name, seen[name], want)
		}
	}
}

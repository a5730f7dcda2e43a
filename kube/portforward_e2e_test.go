package kube

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/tools/netproxy"
)

// pfEnv is a namespace "p18-..." of its own with a Deployment "web" of one
// running pod, and a k8sh client of it (through server when not "").
type pfEnv struct {
	env *kubetest.Env
	ns  string
	c   *Client
}

func newPFEnv(t *testing.T, server string) *pfEnv {
	t.Helper()
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	kubetest.CreateWeb(t, env, ns)
	flags := NewConfigFlags()
	kc, kctx, dir := env.Kubeconfig, "sandbox", t.TempDir()
	flags.KubeConfig, flags.Namespace, flags.Context, flags.CacheDir = &kc, &ns, &kctx, &dir
	if server != "" {
		flags.APIServer = &server
	}
	return &pfEnv{env: env, ns: ns, c: NewClient(flags)}
}

// syncBuffer is a bytes.Buffer safe for the forward's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func httpClient() *http.Client {
	// No keep-alive: every request is a connection of its own.
	return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 2 * time.Minute}
}

func get(t *testing.T, port uint16, path string) []byte {
	t.Helper()
	resp, err := httpClient().Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return b
}

// TestPortForwardE2E carries 100 MB each way through one connection (POST
// /echo, checked by hash) and through the TCP echo port, then many
// sequential and concurrent connections through the same forward, with a
// free local port, a named port and a fixed one.
func TestPortForwardE2E(t *testing.T) {
	e := newPFEnv(t, "")
	var errs syncBuffer
	f, err := e.c.PortForward(context.Background(), "deploy", "web", e.ns, []string{":http", "0:9000"}, "127.0.0.1", &errs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	ports := f.Ports()
	if ports[0].Remote != 80 || ports[0].Local == 0 || ports[1].Remote != 9000 {
		t.Fatalf("ports: %+v", ports)
	}
	want := fmt.Sprintf("Forwarding from 127.0.0.1:%d -> 80", ports[0].Local)
	if got := f.Lines()[0]; got != want {
		t.Errorf("line %q, want %q", got, want)
	}

	const size = 100 << 20
	t.Run("http-echo-100MB", func(t *testing.T) {
		t.Parallel()
		sum, n := sha256.New(), int64(0)
		body := io.TeeReader(io.LimitReader(rand.Reader, size), sum)
		resp, err := httpClient().Post(fmt.Sprintf("http://127.0.0.1:%d/echo", ports[0].Local), "application/octet-stream", body)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		back := sha256.New()
		if n, err = io.Copy(back, resp.Body); err != nil {
			t.Fatal(err)
		}
		if n != size || !bytes.Equal(sum.Sum(nil), back.Sum(nil)) {
			t.Fatalf("echoed %d bytes, hash equal: %v", n, bytes.Equal(sum.Sum(nil), back.Sum(nil)))
		}
	})
	t.Run("tcp-echo-100MB", func(t *testing.T) {
		t.Parallel()
		conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[1].Local))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		sum := sha256.New()
		go func() {
			io.Copy(conn, io.TeeReader(io.LimitReader(rand.Reader, size), sum))
			conn.(*net.TCPConn).CloseWrite()
		}()
		back := sha256.New()
		n, err := io.Copy(back, io.LimitReader(conn, size))
		if err != nil || n != size {
			t.Fatalf("echoed %d bytes: %v", n, err)
		}
		if !bytes.Equal(sum.Sum(nil), back.Sum(nil)) {
			t.Fatal("the echo differs from what was sent")
		}
	})
	t.Run("many-connections", func(t *testing.T) {
		t.Parallel()
		for i := range 50 {
			if b := get(t, ports[0].Local, "/bytes/"+strconv.Itoa(1000+i)); len(b) != 1000+i {
				t.Fatalf("sequential %d: got %d bytes", i, len(b))
			}
		}
		var wg sync.WaitGroup
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := httpClient().Get(fmt.Sprintf("http://127.0.0.1:%d/bytes/%d", ports[0].Local, 50000+i))
				if err != nil {
					t.Errorf("concurrent %d: %v", i, err)
					return
				}
				defer resp.Body.Close()
				if n, err := io.Copy(io.Discard, resp.Body); err != nil || n != int64(50000+i) {
					t.Errorf("concurrent %d: %d bytes, %v", i, n, err)
				}
			}()
		}
		wg.Wait()
	})
	t.Cleanup(func() {
		if s := errs.String(); s != "" {
			t.Errorf("stderr: %q", s)
		}
	})
}

// TestPortForwardSurvivesE2E cuts the tunnel to the API server in the
// middle of a transfer (tools/netproxy between k8sh and the API server),
// then deletes the pod of deploy/web: each time one line on stderr says
// so, and the next connection works; Stop leaves no goroutine behind.
func TestPortForwardSurvivesE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	proxy, err := netproxy.Start("127.0.0.1:0", strings.TrimPrefix(env.Config.Host, "https://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	e := newPFEnv(t, "https://"+proxy.Addr())
	before := goleak.IgnoreCurrent()
	var errs syncBuffer
	f, err := e.c.PortForward(context.Background(), "deploy", "web", e.ns, []string{"0:80"}, "127.0.0.1", &errs)
	if err != nil {
		t.Fatal(err)
	}
	port := f.Ports()[0].Local
	pod := f.Pod()
	if b := get(t, port, "/bytes/100"); len(b) != 100 {
		t.Fatalf("got %d bytes", len(b))
	}

	// A transfer cut in its middle: that connection fails, the next works.
	resp, err := httpClient().Get(fmt.Sprintf("http://127.0.0.1:%d/bytes/%d", port, 1<<30))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, resp.Body, 1<<20); err != nil {
		t.Fatal(err)
	}
	proxy.CutAll()
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n >= 1<<30-1<<20 {
		t.Fatalf("the cut transfer went on to its end")
	}
	if b := get(t, port, "/bytes/200"); len(b) != 200 {
		t.Fatalf("after the cut: got %d bytes", len(b))
	}
	if got, want := errs.String(), fmt.Sprintf("k8s.port_forward: pod/%s: connection lost; reconnected\n", pod); got != want {
		t.Fatalf("stderr after the cut: %q, want %q", got, want)
	}

	// The API server unreachable for a while: a connection made meanwhile
	// waits for the reconnect instead of being refused.
	proxy.Refuse(true)
	proxy.CutAll()
	accepted := proxy.Accepted.Load()
	if err := wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		return proxy.Accepted.Load() >= accepted+2, nil // reconnecting, refused
	}); err != nil {
		t.Fatal("the forward did not try to reconnect")
	}
	// Connected and asked while no tunnel can be made: it waits.
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("during the reconnect: %v", err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /bytes/250 HTTP/1.0\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	proxy.Refuse(false)
	resp2, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("during the reconnect: %v", err)
	}
	if b, err := io.ReadAll(resp2.Body); err != nil || len(b) != 250 {
		t.Fatalf("during the reconnect: got %d bytes, %v", len(b), err)
	}

	// The pod deleted: its ReplicaSet makes another, the forward goes to it.
	if err := e.env.Clientset.CoreV1().Pods(e.ns).Delete(context.Background(), pod, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	newPod := kubetest.RunningPod(t, e.env, e.ns, pod)
	want := fmt.Sprintf("k8s.port_forward: pod/%s gone; forwarding to pod/%s\n", pod, newPod)
	if err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 60*time.Second, true, func(context.Context) (bool, error) {
		return strings.Contains(errs.String(), want), nil
	}); err != nil {
		t.Fatalf("stderr: %q, want a line %q", errs.String(), want)
	}
	if b := get(t, port, "/bytes/300"); len(b) != 300 {
		t.Fatalf("after the new pod: got %d bytes", len(b))
	}
	if f.Pod() != newPod {
		t.Errorf("forwarding to %s, want %s", f.Pod(), newPod)
	}
	if lines := strings.Count(errs.String(), "\n"); lines != 3 {
		t.Errorf("stderr has %d lines, want 3: %q", lines, errs.String())
	}
	f.Stop()
	if err := f.Err(); err != nil {
		t.Errorf("Err after Stop: %v", err)
	}
	if _, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port)); err == nil {
		t.Errorf("still listening after Stop")
	}
	// The API client's idle keep-alive connections (and the test proxy's
	// ends of them) are the client's, not the forward's; spdystream's
	// shutdown of a cut tunnel takes a while to return (up to its close
	// timeout): wait for it, bounded.
	opts := []goleak.Option{before,
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("github.com/k8sh/k8sh/tools/netproxy.(*Proxy).pipe"),
		goleak.IgnoreTopFunction("github.com/k8sh/k8sh/tools/netproxy.(*Proxy).handle"),
	}
	err = goleak.Find(opts...)
	for deadline := time.Now().Add(30 * time.Second); err != nil && time.Now().Before(deadline); err = goleak.Find(opts...) {
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Error(err)
	}
}

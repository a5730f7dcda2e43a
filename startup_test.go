package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// connections returns how many connections reached l, once those made by a
// process that has exited have had time to be accepted: a connection that
// process opened was in the accept queue before it exited.
func (l *countingListener) connections() int {
	deadline := time.Now().Add(time.Second)
	for l.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	return int(l.n.Load())
}

// TestNoNetworkWithoutCluster checks that a program that does not use the
// cluster sends nothing to it: `k8sh -c 'print(1)'` with --server naming a
// listener that counts connections. A program that lists namespaces, run the
// same way, must reach that listener, which shows that it is the one the
// flags name.
func TestNoNetworkWithoutCluster(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: ln}
	srv := &http.Server{Handler: http.NotFoundHandler()}
	go srv.Serve(cl)
	t.Cleanup(func() { srv.Close() })

	kubeconfig := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(kubeconfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	server := "http://" + ln.Addr().String()
	home := []string{"HOME=" + t.TempDir(), "KUBECONFIG="}

	r := k8sh(t, "", home, "--server", server, "--kubeconfig", kubeconfig, "-c", "print(1)")
	if r.Code != 0 || r.Stdout != "1\n" || r.Stderr != "" {
		t.Fatalf("k8sh -c 'print(1)': got %+v", r)
	}
	if n := cl.connections(); n != 0 {
		t.Errorf("k8sh -c 'print(1)' opened %d connections to --server; want none", n)
	}

	r = k8sh(t, "", home, "--server", server, "--kubeconfig", kubeconfig, "-c", `k8s.get("namespaces")`)
	if r.Code != 1 {
		t.Fatalf("k8s.get against a server that answers 404: got %+v, want exit 1", r)
	}
	if n := cl.connections(); n == 0 {
		t.Errorf("k8s.get opened no connection to --server: the listener is not the one k8sh uses")
	}
}

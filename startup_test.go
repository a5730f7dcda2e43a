package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// countingListener counts the connections it accepts, and tells when it has
// accepted the one from the address that mark names.
type countingListener struct {
	net.Listener
	mu     sync.Mutex
	n      int
	mark   string
	marked chan int // the count before the marked connection
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.mark != "" && c.RemoteAddr().String() == l.mark {
		l.marked <- l.n
		l.mark = ""
	} else {
		l.n++
	}
	return c, nil
}

// connections returns how many connections reached l so far: it connects
// once more itself and waits until l accepts that connection, so that every
// earlier one, queued before it, has been counted.
func (l *countingListener) connections(t *testing.T) int {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l.mu.Lock()
	l.mark, l.marked = c.LocalAddr().String(), make(chan int, 1)
	ch := l.marked
	l.mu.Unlock()
	return <-ch
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
	if r.code != 0 || r.stdout != "1\n" || r.stderr != "" {
		t.Fatalf("k8sh -c 'print(1)': got %+v", r)
	}
	if n := cl.connections(t); n != 0 {
		t.Errorf("k8sh -c 'print(1)' opened %d connections to --server; want none", n)
	}

	r = k8sh(t, "", home, "--server", server, "--kubeconfig", kubeconfig, "-c", `k8s.get("namespaces")`)
	if r.code != 1 {
		t.Fatalf("k8s.get against a server that answers 404: got %+v, want exit 1", r)
	}
	if n := cl.connections(t); n == 0 {
		t.Errorf("k8s.get opened no connection to --server: the listener is not the one k8sh uses")
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestLoopbackOnly(t *testing.T) {
	for _, tc := range []struct {
		in, want, err string
	}{
		{in: "127.0.0.1:443", want: "127.0.0.1:443"},
		{in: "127.2.0.9:443", want: "127.2.0.9:443"},
		{in: "[::1]:80", want: "[::1]:80"},
		{in: "localhost:80", want: ":80"}, // resolved from /etc/hosts: 127.0.0.1 or ::1
		{in: "10.0.0.1:443", err: "egress to 10.0.0.1:443 refused: 10.0.0.1 is not in 127.0.0.0/8"},
		{in: "192.0.2.1:443", err: "192.0.2.1 is not in 127.0.0.0/8"},
		{in: "[2001:db8::1]:443", err: "2001:db8::1 is not in 127.0.0.0/8"},
		{in: "no-port", err: "missing port"},
	} {
		got, err := loopbackOnly(context.Background(), tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("loopbackOnly(%q) = %q, %v; want error %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !strings.HasSuffix(got, tc.want) {
			t.Errorf("loopbackOnly(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// connect sends CONNECT target through the guard at addr and returns the
// response and the connection.
func connect(t *testing.T, addr, target string) (*http.Response, net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.Dial("unix", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "CONNECT "+target+" HTTP/1.1\r\nHost: "+target+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	return resp, c, br
}

func TestGuard(t *testing.T) {
	guard, err := net.Listen("unix", t.TempDir()+"/egress.sock")
	if err != nil {
		t.Fatal(err)
	}
	defer guard.Close()
	go func() {
		for {
			c, err := guard.Accept()
			if err != nil {
				return
			}
			go serve(c)
		}
	}()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()

	t.Run("loopback is tunnelled", func(t *testing.T) {
		resp, c, br := connect(t, guard.Addr().String(), echo.Addr().String())
		if resp.StatusCode != 200 {
			t.Fatalf("status %s", resp.Status)
		}
		msg := bytes.Repeat([]byte("k8sh"), 1<<16)
		go c.Write(msg)
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo through the tunnel: %v, equal=%v", err, bytes.Equal(got, msg))
		}
	})
	t.Run("other addresses are refused without a dial", func(t *testing.T) {
		// 192.0.2.0/24 is TEST-NET-1: the guard refuses it before dialling.
		resp, _, _ := connect(t, guard.Addr().String(), "192.0.2.1:443")
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Status, "192.0.2.1 is not in 127.0.0.0/8") {
			t.Fatalf("status %q, want 403 naming the address", resp.Status)
		}
	})
	t.Run("a refused loopback dial says so", func(t *testing.T) {
		l, _ := net.Listen("tcp", "127.0.0.1:0")
		closed := l.Addr().String()
		l.Close()
		resp, _, _ := connect(t, guard.Addr().String(), closed)
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(resp.Status, "connection refused") || !strings.Contains(resp.Status, closed) {
			t.Fatalf("status %q, want 502 with connection refused on %s", resp.Status, closed)
		}
	})
	t.Run("not CONNECT", func(t *testing.T) {
		c, err := net.Dial("unix", guard.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%v %v", resp, err)
		}
	})
}

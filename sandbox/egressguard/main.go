// Command egress-guard is the HTTP CONNECT proxy that kube-apiserver's
// egress selector sends all of its "cluster" and "controlplane" traffic
// through: admission webhooks (by Service or by URL), aggregated APIs, kubelet calls (logs,
// exec, attach, port-forward) and the pod, service and node proxies. It
// dials a destination only when every address it names or resolves to is
// in 127.0.0.0/8 (or ::1), and refuses anything else with 403, so no
// manifest applied to the sandbox can make kube-apiserver open a
// connection that leaves the machine.
//
// A refused or failed dial is answered with the reason in the status line
// ("HTTP/1.1 502 dial tcp 127.2.0.9:443: connect: connection refused"),
// which kube-apiserver quotes in its error ("proxy error from ... while
// dialing ...: 502 dial tcp ..."), so the user sees what was dialled.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	// A Unix socket: kube-apiserver's egress selector speaks HTTP CONNECT
	// over TCP only with TLS, over a Unix socket without.
	socket := flag.String("socket", "egress.sock", "the Unix socket to listen on")
	flag.Parse()
	os.Remove(*socket) // left by a process that was killed
	l, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("egress guard on %s: CONNECT to 127.0.0.0/8 and ::1 only", l.Addr())
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
		<-sig
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			log.Printf("accept: %v", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		go serve(c)
	}
}

// loopbackOnly resolves hostport and returns the first loopback address to
// dial, or an error when the host is not loopback or resolves to any
// address that is not.
func loopbackOnly(ctx context.Context, hostport string) (string, error) {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "", err
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil {
		ips = []net.IP{ip}
	} else {
		addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
		if err != nil {
			return "", fmt.Errorf("egress to %s refused: cannot resolve %s: %v", hostport, host, err)
		}
		for _, a := range addrs {
			ips = append(ips, a.IP)
		}
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return "", fmt.Errorf("egress to %s refused: %s is not in 127.0.0.0/8 (the sandbox never leaves loopback)", hostport, ip)
		}
	}
	if len(ips) == 0 {
		return "", fmt.Errorf("egress to %s refused: no address", hostport)
	}
	return net.JoinHostPort(ips[0].String(), port), nil
}

// statusLine keeps a reason phrase on one line of printable ASCII.
func statusLine(code int, reason string) string {
	reason = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return ' '
		}
		return r
	}, reason)
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code, reason)
}

func serve(c net.Conn) {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(30 * time.Second)) //nolint:errcheck
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	c.SetReadDeadline(time.Time{}) //nolint:errcheck
	if req.Method != http.MethodConnect {
		io.WriteString(c, statusLine(http.StatusMethodNotAllowed, "only CONNECT")) //nolint:errcheck
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dest := req.URL.Host // CONNECT host:port
	if dest == "" {
		dest = req.Host
	}
	target, err := loopbackOnly(ctx, dest)
	if err != nil {
		log.Print(err)
		io.WriteString(c, statusLine(http.StatusForbidden, err.Error())) //nolint:errcheck
		return
	}
	var d net.Dialer
	up, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		io.WriteString(c, statusLine(http.StatusBadGateway, err.Error())) //nolint:errcheck
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// Bytes the client sent after its CONNECT request are buffered in br.
		io.Copy(up, br) //nolint:errcheck
		closeWrite(up)
	}()
	go func() {
		defer wg.Done()
		io.Copy(c, up) //nolint:errcheck
		closeWrite(c)
	}()
	wg.Wait()
}

// closeWrite half-closes a TCP or Unix connection.
func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite() //nolint:errcheck
	}
}

// Command echo-server is what a port-forward to any sandbox Pod reaches:
// kwok forwards a Pod's port 80 or 8080 to its HTTP listener and every
// other port to its TCP echo listener, so `kubectl port-forward` carries
// real bytes both ways. Both listen on loopback only.
//
// HTTP:
//
//	GET  /            one line naming the server, then the request line and headers
//	GET  /healthz     "ok"
//	GET  /bytes/N     N bytes of a fixed pattern (byte i is i*7+3 mod 251), for size and hash checks
//	POST /echo        the request body, unchanged (any size, streamed)
//
// TCP: every byte received is sent back on the same connection until the
// client closes its side.
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
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	httpAddr := flag.String("http", "127.0.0.1:0", "HTTP listen address (loopback only)")
	tcpAddr := flag.String("tcp", "127.0.0.1:0", "TCP echo listen address (loopback only)")
	flag.Parse()
	for _, a := range []string{*httpAddr, *tcpAddr} {
		if err := checkLoopback(a); err != nil {
			log.Fatal(err)
		}
	}
	hl, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		log.Fatal(err)
	}
	tl, err := net.Listen("tcp", *tcpAddr)
	if err != nil {
		log.Fatal(err)
	}
	log.Printf("http on %s, tcp echo on %s", hl.Addr(), tl.Addr())

	srv := &http.Server{Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(hl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	go serveEcho(tl)

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	tl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(ctx) //nolint:errcheck
}

func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: not a loopback address", addr)
	}
	return nil
}

// Pattern returns byte i of the /bytes/N body.
func Pattern(i int64) byte { return byte((i*7 + 3) % 251) }

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
		if err != nil || n < 0 {
			http.Error(w, "bytes: want a non-negative integer", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		bw := bufio.NewWriterSize(w, 64<<10)
		for i := int64(0); i < n; i++ {
			if bw.WriteByte(Pattern(i)) != nil {
				return
			}
		}
		bw.Flush()
	})
	mux.HandleFunc("POST /echo", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		if r.ContentLength >= 0 {
			w.Header().Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		io.Copy(w, r.Body) //nolint:errcheck
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		var b strings.Builder
		fmt.Fprintf(&b, "k8sh sandbox echo server\n%s %s %s\n", r.Method, r.URL.RequestURI(), r.Proto)
		keys := make([]string, 0, len(r.Header))
		for k := range r.Header {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fmt.Fprintf(&b, "%s: %s\n", k, strings.Join(r.Header[k], ", "))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, b.String())
	})
	return mux
}

func serveEcho(l net.Listener) {
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
		go func() {
			defer c.Close()
			io.Copy(c, c) //nolint:errcheck
			if tc, ok := c.(*net.TCPConn); ok {
				tc.CloseWrite() //nolint:errcheck
			}
		}()
	}
}

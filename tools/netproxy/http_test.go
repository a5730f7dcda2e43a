package netproxy

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// testCA writes a new CA's certificate and key (PEM) into a temp dir.
func testCA(t *testing.T) (certFile, keyFile string, caPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	k8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8})
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	if err := os.WriteFile(certFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, caPEM, keyPEM
}

// faultSetup starts a TLS target serving /body/N (N bytes, flushed in 100
// byte chunks) and /count (the requests it had), and the proxy before it,
// and returns the proxy and a client that trusts the CA.
func faultSetup(t *testing.T, h2 bool) (*HTTPProxy, *http.Client, *atomic.Int64) {
	t.Helper()
	certFile, keyFile, caPEM, keyPEM := testCA(t)
	serving, pool, err := issueServing(caPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	target := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		n, err := strconv.Atoi(filepath.Base(r.URL.Path))
		if err != nil {
			http.Error(w, "bad size", http.StatusBadRequest)
			return
		}
		w.Header().Set("X-Method", r.Method)
		chunk := bytes.Repeat([]byte("x"), 100)
		for sent := 0; sent < n; sent += 100 {
			w.Write(chunk[:min(100, n-sent)])
			w.(http.Flusher).Flush()
		}
	}))
	target.TLS = &tls.Config{Certificates: []tls.Certificate{serving}}
	target.StartTLS()
	t.Cleanup(target.Close)
	p, err := StartHTTP("127.0.0.1:0", HTTPOptions{Target: target.URL, CACert: certFile, CAKey: keyFile, HTTP2: h2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
	t.Cleanup(tr.CloseIdleConnections)
	return p, &http.Client{Transport: tr}, &hits
}

// fetch GETs (or POSTs) path through the proxy and reads the whole body.
func fetch(t *testing.T, c *http.Client, method, path string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(method, path, nil)
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func mustAdd(t *testing.T, p *HTTPProxy, f *Fault) *Fault {
	t.Helper()
	f, err := p.Add(f)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestHTTPForwardAndAnswer(t *testing.T) {
	p, c, hits := faultSetup(t, false)
	resp, body, err := fetch(t, c, "GET", p.URL()+"/body/1000")
	if err != nil || resp.StatusCode != 200 || len(body) != 1000 {
		t.Fatalf("forwarded: %v %v, %d bytes", resp, err, len(body))
	}
	// Two 429s with Retry-After for GETs of /body/, then forwarded; a
	// POST is not met.
	f := mustAdd(t, p, &Fault{Method: "GET", Path: "^/body/", Times: 2, Status: 429, RetryAfter: 3})
	before := hits.Load()
	for i := range 2 {
		resp, body, err := fetch(t, c, "GET", p.URL()+"/body/10")
		if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" || !bytes.Contains(body, []byte(`"reason":"TooManyRequests"`)) {
			t.Fatalf("answer %d: %v %v %s", i, resp, err, body)
		}
	}
	if resp, _, err := fetch(t, c, "POST", p.URL()+"/body/10"); err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Method") != "POST" {
		t.Fatalf("a POST met a GET fault: %v %v", resp, err)
	}
	if resp, _, err := fetch(t, c, "GET", p.URL()+"/body/10"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a third GET was not forwarded: %v %v", resp, err)
	}
	if f.Hits() != 2 || hits.Load()-before != 2 {
		t.Errorf("fault hits %d, target had %d requests; want 2 and 2 (the answered ones never reach it)", f.Hits(), hits.Load()-before)
	}
	// Forward: the target does it, the client hears 504.
	p.Clear()
	mustAdd(t, p, &Fault{Method: "POST", Status: 504, Forward: true})
	before = hits.Load()
	if resp, _, err := fetch(t, c, "POST", p.URL()+"/body/10"); err != nil || resp.StatusCode != 504 {
		t.Fatalf("forwarded 504: %v %v", resp, err)
	}
	if hits.Load() != before+1 {
		t.Errorf("a Forward answer did not reach the target")
	}
	if _, err := p.Add(&Fault{Path: "("}); err == nil {
		t.Error("a bad path pattern was taken")
	}
	if _, err := p.Add(&Fault{}); err == nil {
		t.Error("an Answer without a status was taken")
	}
}

func TestHTTPCutResetStall(t *testing.T) {
	p, c, _ := faultSetup(t, false)
	// Cut after 250 bytes: the client gets those and an unexpected EOF.
	mustAdd(t, p, &Fault{Path: "/body/", Times: 1, Action: Cut, After: 250})
	_, body, err := fetch(t, c, "GET", p.URL()+"/body/1000")
	if !errors.Is(err, io.ErrUnexpectedEOF) || len(body) != 250 {
		t.Errorf("cut: %d bytes, %v; want 250 and an unexpected EOF", len(body), err)
	}
	// Reset after 150 bytes.
	p.Clear()
	mustAdd(t, p, &Fault{Path: "/body/", Times: 1, Action: Reset, After: 150})
	_, body, err = fetch(t, c, "GET", p.URL()+"/body/1000")
	if !errors.Is(err, syscall.ECONNRESET) || len(body) != 150 {
		t.Errorf("reset: %d bytes, %v; want 150 and a connection reset", len(body), err)
	}
	// Cut before the headers: the request reached the target, no answer.
	p.Clear()
	mustAdd(t, p, &Fault{Method: "POST", Times: 1, Action: Cut})
	if _, _, err := fetch(t, c, "POST", p.URL()+"/body/10"); err == nil {
		t.Error("a cut before the headers gave an answer")
	}
	// Every 700 bytes over all responses: 500 whole, then 200 of the
	// next, whose count starts again: 500 whole, 200, ...
	p.Clear()
	mustAdd(t, p, &Fault{Path: "/body/", Action: Cut, After: 700, Every: true})
	var lens []int
	for range 4 {
		_, body, _ := fetch(t, c, "GET", p.URL()+"/body/500")
		lens = append(lens, len(body))
	}
	if want := []int{500, 200, 500, 200}; !equalInts(lens, want) {
		t.Errorf("cut every 700 bytes: bodies of %v, want %v", lens, want)
	}
	// A stall until the client goes away: 300 bytes, then nothing.
	p.Clear()
	mustAdd(t, p, &Fault{Path: "/body/", Times: 1, Action: Stall, After: 300})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", p.URL()+"/body/1000", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 300)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	more := make(chan error, 1)
	go func() { _, err := resp.Body.Read(make([]byte, 1)); more <- err }()
	select {
	case err := <-more:
		t.Fatalf("a read past the stall returned %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	cancel()
	if err := <-more; err == nil {
		t.Error("a read past the stall succeeded after the client went away")
	}
	resp.Body.Close()
	// A stall for a while, then the rest.
	p.Clear()
	mustAdd(t, p, &Fault{Path: "/body/", Times: 1, Action: Stall, After: 300, For: 50 * time.Millisecond})
	if _, body, err := fetch(t, c, "GET", p.URL()+"/body/1000"); err != nil || len(body) != 1000 {
		t.Errorf("stall for 50ms: %d bytes, %v; want 1000", len(body), err)
	}
}

// TestHTTP2StreamReset: over HTTP/2 a Cut resets the one stream; the
// connection goes on for the next request.
func TestHTTP2StreamReset(t *testing.T) {
	p, c, _ := faultSetup(t, true)
	mustAdd(t, p, &Fault{Path: "/body/", Times: 1, Action: Cut, After: 250})
	resp, body, err := fetch(t, c, "GET", p.URL()+"/body/1000")
	if err == nil || resp.ProtoMajor != 2 || len(body) != 250 {
		t.Fatalf("HTTP/2 cut: proto %v, %d bytes, %v", resp, len(body), err)
	}
	if resp, body, err := fetch(t, c, "GET", p.URL()+"/body/1000"); err != nil || resp.ProtoMajor != 2 || len(body) != 1000 {
		t.Fatalf("after the cut: %v %d bytes %v", resp, len(body), err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestHTTPAnswerBody: an Answer with a Body replays it, without asking the
// target.
func TestHTTPAnswerBody(t *testing.T) {
	p, c, hits := faultSetup(t, true)
	mustAdd(t, p, &Fault{Method: "GET", Path: `^/body/7\?x=1$`, Status: 200, Body: []byte(`{"kind":"Table"}`)})
	for range 2 {
		resp, body, err := fetch(t, c, "GET", p.URL()+"/body/7?x=1")
		if err != nil || resp.StatusCode != 200 || string(body) != `{"kind":"Table"}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("replayed: %v %v %q", resp, err, body)
		}
	}
	if hits.Load() != 0 {
		t.Errorf("the target had %d requests, want none", hits.Load())
	}
	if _, body, err := fetch(t, c, "GET", p.URL()+"/body/7"); err != nil || len(body) != 7 {
		t.Fatalf("forwarded: %v, %d bytes", err, len(body))
	}
}

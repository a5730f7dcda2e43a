package netproxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPProxy is the HTTP-level mode of the proxy: it terminates TLS with a
// certificate that a given CA (the sandbox's) issues for 127.0.0.1 and
// localhost, forwards each request to an HTTPS target (the apiserver) and
// can meet chosen requests (by method and path pattern) with a Fault: an
// answer of its own (429 with Retry-After, 500, 503, 504), a response cut
// or reset after N bytes of its body, or a stall. A client that trusts the
// CA (a sandbox kubeconfig with its server changed to URL) sees an
// apiserver with faults. NETPROXY_DEBUG=1 in the environment prints each
// request and each fault that strikes on stderr.
type HTTPProxy struct {
	target *url.URL
	srv    *http.Server
	ln     net.Listener
	rp     *httputil.ReverseProxy
	h2     bool
	closed chan struct{}

	mu     sync.Mutex
	faults []*Fault
	// Requests counts the requests received.
	Requests atomic.Int64
}

// Action is what a Fault does to a request it matches.
type Action int

const (
	// Answer answers the request with Fault.Status (an API Status body),
	// and Retry-After when Fault.RetryAfter is set, instead of forwarding
	// it; with Fault.Forward, after forwarding it (the server did it, the
	// client hears Status).
	Answer Action = iota
	// Cut forwards the request and closes the connection after
	// Fault.After bytes of the response body (0: before its headers), as
	// a network that breaks does.
	Cut
	// Reset is Cut with a TCP reset (RST) instead of a close.
	Reset
	// Stall forwards the request and stops forwarding the response after
	// Fault.After bytes of its body (0: before its headers) for
	// Fault.For (0: until the client goes away), then goes on.
	Stall
)

func (a Action) String() string {
	return [...]string{"answer", "cut", "reset", "stall"}[a]
}

// A Fault selects requests and says what happens to them. Over HTTP/2
// (HTTPOptions.HTTP2), Cut and Reset reset the request's stream, not the
// connection that other requests share.
type Fault struct {
	// Method is the request method it matches; "" matches every one.
	Method string
	// Path is a regular expression searched in the request's path and
	// query ("/api/v1/namespaces/x/pods?watch=true..."); "" matches every
	// request.
	Path string
	// Times is how many matching requests it meets; 0 is every one.
	Times int

	Action Action
	// Status, RetryAfter (seconds) and Forward: see Answer.
	Status     int
	RetryAfter int
	Forward    bool
	// Body, when set, is what Answer answers (Content-Type JSON) instead
	// of a Status: a recorded answer replayed.
	Body []byte
	// After is the bytes of the response body that pass before a Cut,
	// Reset or Stall.
	After int64
	// Every makes a Cut or Reset count the bytes of every response it
	// meets together, cutting one each time After more bytes have passed
	// (a cut every N KB), rather than each response after After bytes.
	Every bool
	// For is how long a Stall lasts.
	For time.Duration

	re     *regexp.Regexp
	hits   atomic.Int64
	struck atomic.Int64
	count  int64 // bytes passed, for Every; under the proxy's mu
}

// Hits is how many requests f has met.
func (f *Fault) Hits() int64 { return f.hits.Load() }

// Struck is how many times f did what it does: answered, cut, reset or
// stalled (a response shorter than After is met but not struck).
func (f *Fault) Struck() int64 { return f.struck.Load() }

// HTTPOptions configure StartHTTP.
type HTTPOptions struct {
	// Target is the URL of the server requests are forwarded to
	// ("https://127.0.0.1:6443").
	Target string
	// CACert and CAKey are PEM files of the CA that issues the proxy's
	// serving certificate; the target's certificate is checked against
	// the same CA.
	CACert, CAKey string
	// HTTP2 offers HTTP/2 to clients (as the apiserver does); without it
	// the proxy speaks HTTP/1.1, where Cut and Reset break a connection.
	HTTP2 bool
}

// StartHTTP listens on addr ("127.0.0.1:0" for a free port) and serves the
// HTTP fault proxy.
func StartHTTP(addr string, o HTTPOptions) (*HTTPProxy, error) {
	target, err := url.Parse(o.Target)
	if err != nil || target.Scheme != "https" || target.Host == "" {
		return nil, fmt.Errorf("netproxy: target %q is not an https:// URL", o.Target)
	}
	caPEM, err := os.ReadFile(o.CACert)
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(o.CAKey)
	if err != nil {
		return nil, err
	}
	serving, pool, err := issueServing(caPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &HTTPProxy{target: target, ln: ln, h2: o.HTTP2, closed: make(chan struct{})}
	tlsUp := &tls.Config{RootCAs: pool}
	h2up := &http.Transport{TLSClientConfig: tlsUp, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 64}
	h1up := &http.Transport{TLSClientConfig: tlsUp.Clone(), TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}
	p.rp = &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = target.Host
		},
		Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
			if r.Header.Get("Upgrade") != "" { // exec, port-forward: HTTP/1.1 upgrades
				return h1up.RoundTrip(r)
			}
			return h2up.RoundTrip(r)
		}),
		ErrorLog: discardLog(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	tc := &tls.Config{Certificates: []tls.Certificate{serving}, NextProtos: []string{"http/1.1"}}
	p.srv = &http.Server{Handler: p, ErrorLog: discardLog()}
	if o.HTTP2 {
		tc.NextProtos = []string{"h2", "http/1.1"}
	} else {
		p.srv.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	p.srv.TLSConfig = tc
	go p.srv.ServeTLS(ln, "", "")
	return p, nil
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// URL is the proxy's address, https://127.0.0.1:PORT.
func (p *HTTPProxy) URL() string { return "https://" + p.ln.Addr().String() }

// Add installs f (its Path compiled) after the faults already there: a
// request meets the first fault that matches it and has times left. It
// returns f, whose Hits count the requests it met.
func (p *HTTPProxy) Add(f *Fault) (*Fault, error) {
	if f.Path != "" {
		re, err := regexp.Compile(f.Path)
		if err != nil {
			return nil, err
		}
		f.re = re
	}
	if f.Action == Answer && f.Status == 0 {
		return nil, errors.New("netproxy: an Answer fault needs a Status")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
	return f, nil
}

// Clear removes every fault: requests are forwarded as they come.
func (p *HTTPProxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Close stops the proxy: it stops listening, ends the stalls and closes
// every connection.
func (p *HTTPProxy) Close() error {
	close(p.closed)
	return p.srv.Close()
}

// match returns the fault that r meets, or nil.
func (p *HTTPProxy) match(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	where := r.URL.Path
	if r.URL.RawQuery != "" {
		where += "?" + r.URL.RawQuery
	}
	for _, f := range p.faults {
		if f.Method != "" && f.Method != r.Method || f.re != nil && !f.re.MatchString(where) {
			continue
		}
		if f.Times > 0 && f.hits.Load() >= int64(f.Times) {
			continue
		}
		f.hits.Add(1)
		return f
	}
	return nil
}

func (p *HTTPProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if os.Getenv("NETPROXY_DEBUG") != "" {
		fmt.Fprintln(os.Stderr, "netproxy:", r.Method, r.URL.String())
	}
	p.Requests.Add(1)
	f := p.match(r)
	switch {
	case f == nil:
		p.rp.ServeHTTP(w, r)
	case f.Action == Answer:
		if f.Forward {
			p.rp.ServeHTTP(discardWriter{h: http.Header{}}, r)
		}
		f.struck.Add(1)
		answer(w, f)
	default:
		p.rp.ServeHTTP(&faultWriter{ResponseWriter: w, p: p, f: f, req: r}, r)
	}
}

// answer writes f's status as the apiserver writes an error: a Status; or
// f's Body.
func answer(w http.ResponseWriter, f *Fault) {
	if f.Body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		w.Write(f.Body)
		return
	}
	reason := map[int]string{
		http.StatusTooManyRequests: "TooManyRequests", http.StatusInternalServerError: "InternalError",
		http.StatusServiceUnavailable: "ServiceUnavailable", http.StatusGatewayTimeout: "Timeout",
	}[f.Status]
	body, _ := json.Marshal(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{}, "status": "Failure",
		"message": fmt.Sprintf("netproxy: injected %d", f.Status), "reason": reason, "code": f.Status,
	})
	w.Header().Set("Content-Type", "application/json")
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	w.WriteHeader(f.Status)
	w.Write(body)
}

// faultWriter passes a forwarded response on until its fault's point.
type faultWriter struct {
	http.ResponseWriter
	p       *HTTPProxy
	f       *Fault
	req     *http.Request
	sent    int64 // body bytes passed
	stalled bool
}

func (w *faultWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *faultWriter) Flush() {
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *faultWriter) WriteHeader(code int) {
	if w.f.After == 0 && code >= 200 {
		w.strike()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *faultWriter) Write(b []byte) (int, error) {
	written := 0
	for len(b) > 0 {
		left := w.left()
		if left < 0 || int64(len(b)) <= left {
			n, err := w.ResponseWriter.Write(b)
			w.passed(int64(n))
			return written + n, err
		}
		n, err := w.ResponseWriter.Write(b[:left])
		w.passed(int64(n))
		written += n
		if err != nil {
			return written, err
		}
		b = b[left:]
		w.Flush()
		w.strike()
	}
	return written, nil
}

// left is how many bytes may pass before the fault strikes; -1: no limit.
func (w *faultWriter) left() int64 {
	switch {
	case w.f.Action == Stall && w.stalled:
		return -1
	case w.f.Every:
		w.p.mu.Lock()
		defer w.p.mu.Unlock()
		return max(w.f.After-w.f.count, 0)
	}
	return max(w.f.After-w.sent, 0)
}

func (w *faultWriter) passed(n int64) {
	w.sent += n
	if w.f.Every {
		w.p.mu.Lock()
		w.f.count += n
		w.p.mu.Unlock()
	}
}

// strike does the fault: a Stall waits, a Cut or Reset breaks the
// connection (or the HTTP/2 stream) and ends the handler.
func (w *faultWriter) strike() {
	if os.Getenv("NETPROXY_DEBUG") != "" {
		fmt.Fprintln(os.Stderr, "netproxy: strike", w.f.Action, w.sent, w.req.URL.String())
	}
	w.f.struck.Add(1)
	if w.f.Every {
		w.p.mu.Lock()
		w.f.count = 0
		w.p.mu.Unlock()
	}
	if w.f.Action == Stall {
		w.stalled = true
		var t <-chan time.Time
		if w.f.For > 0 {
			timer := time.NewTimer(w.f.For)
			defer timer.Stop()
			t = timer.C
		}
		select {
		case <-t:
			return // the rest goes on
		case <-w.req.Context().Done():
		case <-w.p.closed:
		}
		// The client left (or the proxy closes) during the stall: nothing
		// more of this answer is sent.
		panic(http.ErrAbortHandler)
	}
	if w.req.ProtoMajor == 1 {
		if conn, _, err := http.NewResponseController(w.ResponseWriter).Hijack(); err == nil {
			raw := conn
			if tc, ok := conn.(*tls.Conn); ok {
				raw = tc.NetConn() // no close_notify: the network broke
			}
			if tcp, ok := raw.(*net.TCPConn); ok && w.f.Action == Reset {
				tcp.SetLinger(0)
			}
			raw.Close()
		}
	}
	panic(http.ErrAbortHandler)
}

// discardWriter takes a forwarded response whose answer is replaced.
type discardWriter struct{ h http.Header }

func (d discardWriter) Header() http.Header         { return d.h }
func (d discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d discardWriter) WriteHeader(int)             {}

// issueServing makes a serving certificate for 127.0.0.1 and localhost of
// a new key, signed by the CA of caPEM and keyPEM, and a pool of that CA.
func issueServing(caPEM, keyPEM []byte) (tls.Certificate, *x509.CertPool, error) {
	ca, err := tls.X509KeyPair(caPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("netproxy: the CA: %w", err)
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now().Add(-time.Hour)
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "netproxy"},
		NotBefore:    now,
		NotAfter:     now.Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, key.Public(), ca.PrivateKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool, nil
}

// discardLog is a server log that drops what it is told: the proxy's
// faults make the errors it would log.
func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// Retry policy for transient failures.
const (
	retryAttempts = 5                      // tries in all for an error status (5xx, 429), the first included
	retryBase     = 200 * time.Millisecond // first backoff; doubles each time
	retryCap      = 5 * time.Second        // longest backoff we choose ourselves
	retryAfterCap = 30 * time.Second       // longest Retry-After we honour
)

// The limits of RetryLimits, in nanoseconds: how long a connection failure
// is retried, in waits (a kube-apiserver restart takes ~12 s), and how
// long a request that is not a stream waits without a byte of its answer.
var retryForNs, stallNs atomic.Int64

func init() {
	retryForNs.Store(int64(30 * time.Second))
	stallNs.Store(int64(70 * time.Second))
}

func retryFor() time.Duration     { return time.Duration(retryForNs.Load()) }
func stallTimeout() time.Duration { return time.Duration(stallNs.Load()) }

// RetryLimits are how long k8sh goes on through faults.
type RetryLimits struct {
	// For is how long a connection failure (refused after the server
	// answered once, reset, cut, stalled) is retried, in waits: 30 s.
	For time.Duration
	// Stall is how long a request that is not a stream (a watch, a log
	// follow, exec, attach, port-forward) waits without a byte of its
	// answer before its connection counts as broken: 70 s, past the
	// apiserver's own 60 s limit, after which it answers 504 itself.
	Stall time.Duration
}

// SetRetryLimits changes the limits of every client (tests make them
// short) and returns a function that restores the previous ones.
func SetRetryLimits(l RetryLimits) (restore func()) {
	prevFor, prevStall := retryForNs.Swap(int64(l.For)), stallNs.Swap(int64(l.Stall))
	return func() { retryForNs.Store(prevFor); stallNs.Store(prevStall) }
}

// retryTransport retries what is safe to retry:
//   - an idempotent request (GET, HEAD, OPTIONS: reads, lists, the start of a
//     watch; a server-side apply, which sends the whole intent again; a dry
//     run) that failed with 429, 500, 502, 503 or 504 (up to retryAttempts
//     tries; 429 and 503, an overloaded server, for retryFor of waiting),
//     or with a connection reset, a refused connection, an EOF or a
//     timeout (for retryFor of waiting: a kube-apiserver restart takes ~12
//     s);
//   - any request whose connection was refused, since nothing reached the
//     server (when its body can be sent again).
//
// A refused connection to a server that has not answered this process yet
// is not retried: nothing is listening there (a wrong or stopped server),
// and kubectl fails at once too. It waits with exponential backoff and full
// jitter, or as long as the server's Retry-After says. A mutation that
// failed after it may have reached the server is not retried: its error says
// that the outcome is unknown, rather than guessing; so is one answered
// 504 (the server's timeout, which does not undo what it did).
type retryTransport struct {
	next  http.RoundTripper
	sleep func(context.Context, time.Duration) error
}

// answered are the hosts (host:port) that have answered a request of this
// process: a refused connection to one of them is a server going away for
// a while (a restart), and is retried.
var answered sync.Map

// WrapRetry wraps rt with k8sh's retry policy.
func WrapRetry(rt http.RoundTripper) http.RoundTripper {
	return &retryTransport{next: rt, sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func idempotent(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// idempotentRequest tells whether sending req again does what sending it
// once does: a read, a server-side apply (the same intent applied twice
// leaves the same object), a dry run.
func idempotentRequest(req *http.Request) bool {
	return idempotent(req.Method) ||
		req.Method == http.MethodPatch && strings.HasPrefix(req.Header.Get("Content-Type"), "application/apply-patch") ||
		req.URL.Query().Has("dryRun")
}

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var waited time.Duration
	statusTries := 0
	for attempt := 1; ; attempt++ {
		resp, err := t.attempt(req)
		if resp != nil {
			statusTries++
		}
		wait, retry := t.decide(req, resp, err, attempt)
		// An overloaded server (429, 503: "come back later") and a
		// connection failure are retried for retryFor of waiting; other
		// error statuses (500, 502, 504) for retryAttempts tries.
		timed := resp == nil || overloaded(resp.StatusCode)
		last := timed && waited+wait > retryFor() || !timed && statusTries >= retryAttempts
		if !retry || last || (req.Body != nil && req.GetBody == nil) {
			if err != nil && !idempotentRequest(req) && !refused(err) {
				return nil, &OutcomeUnknownError{Method: req.Method, URL: req.URL.Redacted(), Err: err}
			}
			if err != nil && attempt > 1 && req.Context().Err() == nil && !refused(err) {
				return nil, &gaveUpError{err: err, tries: attempt, waited: waited}
			}
			if resp != nil && (overloaded(resp.StatusCode) || resp.StatusCode >= 500) {
				// Retried here as long as k8sh retries: client-go would
				// retry an answer with Retry-After ten times more, each
				// of which retried here again.
				resp.Header.Del("Retry-After")
			}
			if err == nil && resp.StatusCode == http.StatusGatewayTimeout && !idempotentRequest(req) {
				msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
				resp.Body.Close()
				var status struct{ Message string }
				if json.Unmarshal(msg, &status) == nil && status.Message != "" {
					msg = []byte(status.Message) // the server's Status: its message
				}
				return nil, &OutcomeUnknownError{Method: req.Method, URL: req.URL.Redacted(), Status: resp.Status, Err: fmt.Errorf("%s", bytes.TrimSpace(msg))}
			}
			return resp, err
		}
		if resp != nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
		}
		if err := t.sleep(req.Context(), wait); err != nil {
			return nil, err
		}
		waited += wait
		if req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = body
		}
	}
}

func overloaded(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable
}

// attempt sends req once. The answer to a request that is not a stream is
// read whole here, so that a body that breaks off (a cut, a reset) is a
// failed attempt like a connection that broke before the answer: retried
// for a read or a server-side apply, an unknown outcome for another write.
// Such a request also fails with a stallError when no byte of its answer
// (headers or body) comes for stallTimeout: a connection that stalls
// without breaking (a stuck proxy, a peer gone without a reset) would
// otherwise hold the call forever.
func (t *retryTransport) attempt(req *http.Request) (*http.Response, error) {
	if streaming(req) {
		resp, err := t.next.RoundTrip(req)
		if resp != nil {
			answered.Store(req.URL.Host, true)
		}
		return resp, err
	}
	stall := stallTimeout()
	ctx, cancel := context.WithCancelCause(req.Context())
	defer cancel(nil)
	watchdog := time.AfterFunc(stall, func() { cancel(errStalled) })
	defer watchdog.Stop()
	stalled := func(err error) error {
		if context.Cause(ctx) == errStalled && req.Context().Err() == nil {
			return &stallError{d: stall}
		}
		return err
	}
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		return nil, stalled(err)
	}
	answered.Store(req.URL.Host, true)
	bp := bodyBufs.Get().(*[]byte)
	buf := (*bp)[:0]
	if n := resp.ContentLength; n > 0 && n < maxPooledBody {
		buf = slices.Grow(buf, int(n)+1) // +1: the read that sees EOF
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(cap(buf), 32<<10))
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			resp.Body.Close()
			*bp = buf
			putBodyBuf(bp)
			return nil, stalled(err)
		}
		watchdog.Reset(stall)
	}
	resp.Body.Close()
	*bp = buf
	resp.Body = &pooledBody{data: buf, buf: bp}
	return resp, nil
}

// bodyBufs are the buffers attempt reads answers into, each given back
// when its answer's body is closed (client-go closes it once it has copied
// it), so that reading an answer allocates nothing once a buffer of its
// size has been made: with 20 contexts read at once the buffers' growth
// was most of what a list allocated, and so of the garbage collector's
// work.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// maxPooledBody is the largest buffer kept in bodyBufs: the buffer of a
// larger answer is left to the garbage collector.
const maxPooledBody = 4 << 20

func putBodyBuf(bp *[]byte) {
	if cap(*bp) <= maxPooledBody {
		*bp = (*bp)[:0]
		bodyBufs.Put(bp)
	}
}

// pooledBody is an answer's body read whole by attempt.
type pooledBody struct {
	mu   sync.Mutex
	data []byte  // what is left to read
	buf  *[]byte // data's buffer, nil once closed
}

func (b *pooledBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf == nil {
		return 0, errors.New("read on closed response body")
	}
	if len(b.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// Len is how many bytes are left to read.
func (b *pooledBody) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.data)
}

// Close gives the buffer back: what was read from it was copied out.
func (b *pooledBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf != nil {
		putBodyBuf(b.buf)
		b.buf, b.data = nil, nil
	}
	return nil
}

var errStalled = errors.New("stalled")

// stallError is a connection on which the answer stopped coming: a
// timeout, retried as a broken connection is.
type stallError struct{ d time.Duration }

func (e *stallError) Error() string {
	return fmt.Sprintf("no answer from the server for %s: the connection stalled", e.d)
}
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// streaming tells whether req asks for an answer that may rightly be
// quiet for long, or long: a watch, a log (followed or not), exec, attach,
// port-forward, a proxied connection.
func streaming(req *http.Request) bool {
	q := req.URL.Query()
	if w := q.Get("watch"); w == "true" || w == "1" || q.Get("follow") == "true" || req.Header.Get("Upgrade") != "" {
		return true
	}
	p := req.URL.Path
	return strings.Contains(p, "/watch/") || strings.Contains(p, "/proxy") ||
		strings.HasSuffix(p, "/exec") || strings.HasSuffix(p, "/log") || strings.HasSuffix(p, "/attach") || strings.HasSuffix(p, "/portforward")
}

// decide tells whether to try again and after how long.
func (t *retryTransport) decide(req *http.Request, resp *http.Response, err error, attempt int) (time.Duration, bool) {
	if req.Context().Err() != nil {
		return 0, false
	}
	backoff := retryBase << (attempt - 1)
	if backoff > retryCap {
		backoff = retryCap
	}
	backoff = time.Duration(rand.Int64N(int64(backoff)) + 1) // full jitter
	if err != nil {
		if refused(err) {
			_, before := answered.Load(req.URL.Host)
			return backoff, before
		}
		return backoff, idempotentRequest(req) && transient(err)
	}
	if !idempotentRequest(req) && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false // only 429 says the server did not do it
	}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
	default:
		return 0, false
	}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			return min(time.Duration(secs)*time.Second, retryAfterCap), true
		}
	}
	return backoff, true
}

func refused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

func transient(err error) bool {
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	// HTTP/2: the server (or a proxy) reset the request's stream, or
	// went away from the connection.
	var se http2.StreamError
	var ga http2.GoAwayError
	if errors.As(err, &se) || errors.As(err, &ga) || strings.Contains(err.Error(), "http2: client connection lost") {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// gaveUpError is a connection failure of a request that was retried until
// the limit. Its message says so, and neither it nor its words are those
// of a reset or an EOF, which client-go's requests retry ten times more
// (each of which retried here again: five minutes for a server that
// resets every connection).
type gaveUpError struct {
	err    error
	tries  int
	waited time.Duration
}

func (e *gaveUpError) Error() string {
	msg := strings.ReplaceAll(e.err.Error(), "connection reset by peer", "connection reset")
	return fmt.Sprintf("%s (still failing after %d tries in %s)", msg, e.tries, e.waited.Round(100*time.Millisecond))
}

// OutcomeUnknownError is a mutation that failed after it may have reached
// the server: it may or may not have been applied. Status is the server's
// answer when it answered 504 (its own timeout).
type OutcomeUnknownError struct {
	Method, URL, Status string
	Err                 error
}

func (e *OutcomeUnknownError) Error() string {
	if e.Status != "" {
		return fmt.Sprintf("%s %s: the server answered %s, so it may or may not have been applied; read the object to see (%v)", e.Method, e.URL, e.Status, e.Err)
	}
	return fmt.Sprintf("%s %s: the connection failed after the request was sent, so it may or may not have been applied; read the object to see (%v)", e.Method, e.URL, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

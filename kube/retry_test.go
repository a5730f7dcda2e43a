package kube

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func testTransport(waits *[]time.Duration) *retryTransport {
	return &retryTransport{next: http.DefaultTransport, sleep: func(_ context.Context, d time.Duration) error {
		*waits = append(*waits, d)
		return nil
	}}
}

func TestRetryTransientThenSuccess(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		case 2:
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := testTransport(&waits).RoundTrip(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("got %v %v", resp, err)
	}
	if calls.Load() != 3 || len(waits) != 2 {
		t.Fatalf("calls %d waits %v", calls.Load(), waits)
	}
	if waits[0] <= 0 || waits[0] > retryBase {
		t.Errorf("first backoff %v, want (0, %v]", waits[0], retryBase)
	}
	if waits[1] != 2*time.Second {
		t.Errorf("Retry-After not honoured: waited %v", waits[1])
	}
}

func TestRetryGivesUp(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer srv.Close()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := testTransport(&waits).RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("got %v %v", resp, err)
	}
	if calls.Load() != retryAttempts {
		t.Errorf("calls %d, want %d", calls.Load(), retryAttempts)
	}
	for i, w := range waits {
		if w > retryCap || w > retryBase<<i {
			t.Errorf("backoff %d = %v exceeds its bound", i, w)
		}
	}
}

func TestNoRetryOnClientErrorsAndMutations(t *testing.T) {
	for _, tc := range []struct {
		method string
		status int
	}{
		{http.MethodGet, http.StatusNotFound},
		{http.MethodGet, http.StatusForbidden},
		{http.MethodPost, http.StatusServiceUnavailable},
		{http.MethodPatch, http.StatusInternalServerError},
	} {
		var calls atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls.Add(1)
			w.WriteHeader(tc.status)
		}))
		var waits []time.Duration
		req, _ := http.NewRequest(tc.method, srv.URL, strings.NewReader("{}"))
		resp, err := testTransport(&waits).RoundTrip(req)
		srv.Close()
		if err != nil || resp.StatusCode != tc.status || calls.Load() != 1 {
			t.Errorf("%s %d: resp %v err %v calls %d", tc.method, tc.status, resp, err, calls.Load())
		}
	}
}

func TestMutationOutcomeUnknown(t *testing.T) {
	// A server that reads the request and then drops the connection.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 4096)
			c.Read(buf)
			c.Close()
		}
	}()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String(), strings.NewReader("{}"))
	_, err = testTransport(&waits).RoundTrip(req)
	var unknown *OutcomeUnknownError
	if !errors.As(err, &unknown) || len(waits) != 0 {
		t.Fatalf("got %v (waits %v), want an OutcomeUnknownError and no retry", err, waits)
	}
	if !strings.Contains(err.Error(), "may or may not have been applied") {
		t.Errorf("message: %v", err)
	}
}

func TestClosest(t *testing.T) {
	names := []string{"deployments", "deployment", "deploy", "daemonsets", "pods", "services"}
	got := Closest("deploymnets", names, 3)
	if len(got) == 0 || got[0] != "deployments" {
		t.Errorf("closest(deploymnets) = %v", got)
	}
	if got := Closest("zzzzzz", names, 3); len(got) != 0 {
		t.Errorf("closest(zzzzzz) = %v, want none", got)
	}
}

// TestRefusedRetriedOnlyAfterAnswer: a server that never answered is not
// retried (kubectl fails at once too); once it has answered, a refused
// connection (a restart) is retried for retryFor of waiting.
func TestRefusedRetriedOnlyAfterAnswer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr, nil)
	if _, err := testTransport(&waits).RoundTrip(req); !refused(err) || len(waits) != 0 {
		t.Fatalf("never answered: got %v after waits %v, want refused at once", err, waits)
	}
	answered.Store(addr, true)
	defer answered.Delete(addr)
	waits = nil
	if _, err := testTransport(&waits).RoundTrip(req); !refused(err) {
		t.Fatalf("answered before: got %v, want refused in the end", err)
	}
	var sum time.Duration
	for _, w := range waits {
		sum += w
	}
	if len(waits) <= retryAttempts || sum > retryFor() || sum < retryFor()-2*retryCap {
		t.Errorf("answered before: %d waits of %v in all, want about %v of waiting", len(waits), sum, retryFor())
	}
}

// TestApplyRetriedLikeARead: a server-side apply sends the whole intent, so
// it is retried after a dropped connection; a create is not, and neither is
// a 504 on a create (its outcome is unknown).
func TestApplyRetriedLikeARead(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			if hj, ok := w.(http.Hijacker); ok {
				c, _, _ := hj.Hijack()
				c.Close() // the connection drops after the request was read
				return
			}
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusGatewayTimeout)
			w.Write([]byte(`{"kind":"Status","message":"Timeout: request did not complete within requested timeout"}`))
			return
		}
		w.Write([]byte("{}"))
	}))
	defer srv.Close()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodPatch, srv.URL, strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/apply-patch+yaml")
	resp, err := testTransport(&waits).RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || calls.Load() != 2 {
		t.Fatalf("apply: %v %v after %d calls", resp, err, calls.Load())
	}
	calls.Store(1) // the next request is answered: a create answered 504
	req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	_, err = testTransport(&waits).RoundTrip(req)
	var unknown *OutcomeUnknownError
	if !errors.As(err, &unknown) || !strings.Contains(err.Error(), "the server answered 504 Gateway Timeout, so it may or may not have been applied") {
		t.Errorf("create answered 504: %v", err)
	}
}

// TestRetryStall: a request whose answer stops coming (before its headers,
// or in its body) fails as a stalled connection after the stall limit: a
// read is retried and gets its whole answer, a write's outcome is unknown,
// a quiet watch is left alone.
func TestRetryStall(t *testing.T) {
	defer SetRetryLimits(RetryLimits{For: 30 * time.Second, Stall: 100 * time.Millisecond})()
	var calls atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		if r.URL.Query().Get("watch") == "true" {
			w.(http.Flusher).Flush()
			select { // quieter than the stall limit, then an event
			case <-time.After(300 * time.Millisecond):
			case <-release:
			}
			w.Write([]byte("event"))
			return
		}
		switch {
		case n == 1 || r.Method == http.MethodPost: // no headers
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case n == 2: // a body that stops
			w.Write([]byte("par"))
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			w.Write([]byte("whole"))
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handlers
	var waits []time.Duration
	tr := testTransport(&waits)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := tr.RoundTrip(req) // attempt 1 stalls before the headers, attempt 2 in the body, attempt 3 answers
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "whole" {
		t.Fatalf("a read that stalled twice: %q, %v; want the whole answer", body, err)
	}
	if calls.Load() != 3 || len(waits) != 2 {
		t.Errorf("%d calls, %d waits; want 3 and 2", calls.Load(), len(waits))
	}
	var se *stallError
	if !transient(&stallError{}) {
		t.Error("a stall is not transient")
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{}")), nil }
	_, err = tr.RoundTrip(req)
	var ou *OutcomeUnknownError
	if !errors.As(err, &ou) || !errors.As(err, &se) {
		t.Errorf("a stalled POST: %v; want an unknown outcome of a stalled connection", err)
	}
	req, _ = http.NewRequest(http.MethodGet, srv.URL+"?watch=true", nil)
	resp, err = tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(body) != "event" {
		t.Errorf("a quiet watch: %q, %v; want its event", body, err)
	}
}

// TestRetryOverloadForAWhile: 429 and 503 (a server that says "later") are
// retried for retryFor of waiting, not for retryAttempts tries: a burst
// longer than five answers is ridden out.
func TestRetryOverloadForAWhile(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch n := calls.Add(1); {
		case n <= 4:
			w.WriteHeader(http.StatusTooManyRequests)
		case n <= 8:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := testTransport(&waits).RoundTrip(req)
	if err != nil || resp.StatusCode != 200 || calls.Load() != 9 {
		t.Fatalf("got %v %v after %d calls; want 200 after 9", resp, err, calls.Load())
	}
}

// TestRetryBodyCut: an answer whose body breaks off is read again for a
// read; for a write, the outcome is unknown.
func TestRetryBodyCut(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 || r.Method == http.MethodPost {
			w.Header().Set("Content-Length", "100")
			w.Write([]byte("part"))
			return // the body ends short: an unexpected EOF
		}
		w.Write([]byte("whole"))
	}))
	defer srv.Close()
	var waits []time.Duration
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	resp, err := testTransport(&waits).RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "whole" || calls.Load() != 2 {
		t.Errorf("a cut read: %q after %d calls; want the whole answer after 2", body, calls.Load())
	}
	req, _ = http.NewRequest(http.MethodPost, srv.URL, strings.NewReader("{}"))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader("{}")), nil }
	_, err = testTransport(&waits).RoundTrip(req)
	var ou *OutcomeUnknownError
	if !errors.As(err, &ou) {
		t.Errorf("a cut write: %v; want an unknown outcome", err)
	}
}

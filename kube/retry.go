package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"
)

// Retry policy for transient failures.
const (
	retryAttempts = 5                      // tries in all, the first included
	retryBase     = 200 * time.Millisecond // first backoff; doubles each time
	retryCap      = 5 * time.Second        // longest backoff we choose ourselves
	retryAfterCap = 30 * time.Second       // longest Retry-After we honour
)

// retryTransport retries what is safe to retry:
//   - an idempotent request (GET, HEAD, OPTIONS: reads, lists, the start of a
//     watch) that failed with 429, 500, 502, 503 or 504, a connection reset, a
//     refused connection or a timeout;
//   - any request whose connection was refused, since nothing reached the
//     server (when its body can be sent again).
//
// It waits with exponential backoff and full jitter, or as long as the
// server's Retry-After says, a bounded number of times. A mutation that
// failed after it may have reached the server is not retried: its error says
// that the outcome is unknown, rather than guessing.
type retryTransport struct {
	next  http.RoundTripper
	sleep func(context.Context, time.Duration) error
}

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

func (t *retryTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(req)
		last := attempt >= retryAttempts
		wait, retry := t.decide(req, resp, err, attempt)
		if !retry || last || (req.Body != nil && req.GetBody == nil) {
			if err != nil && !idempotent(req.Method) && !refused(err) {
				return nil, &OutcomeUnknownError{Method: req.Method, URL: req.URL.Redacted(), Err: err}
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
		if refused(err) || (idempotent(req.Method) && transient(err)) {
			return backoff, true
		}
		return 0, false
	}
	if !idempotent(req.Method) && resp.StatusCode != http.StatusTooManyRequests {
		return 0, false
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
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// OutcomeUnknownError is a mutation that failed after it may have reached
// the server: it may or may not have been applied.
type OutcomeUnknownError struct {
	Method, URL string
	Err         error
}

func (e *OutcomeUnknownError) Error() string {
	return fmt.Sprintf("%s %s: the connection failed after the request was sent, so it may or may not have been applied; read the object to see (%v)", e.Method, e.URL, e.Err)
}

func (e *OutcomeUnknownError) Unwrap() error { return e.Err }

package kube

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// LogFormats are the values of --log-format.
var LogFormats = []string{"text", "json"}

// CheckLogFormat says what is wrong with format, a value of --log-format.
func CheckLogFormat(format string) error {
	if !slices.Contains(LogFormats, format) {
		return fmt.Errorf("--log-format %q: want one of %s", format, strings.Join(LogFormats, ", "))
	}
	return nil
}

// LogRequests makes every client made from flags (and from the flags of
// other contexts copied from them) write one line per API request to w:
// its verb, URL, status and duration, in format "text" (as kubectl -v=6
// words it) or "json" (one object a line). Each attempt of a retried
// request is a line. Only the method, URL and status are logged: never a
// header (bearer tokens, client certificates) nor a body (Secret data).
func LogRequests(flags *genericclioptions.ConfigFlags, w io.Writer, format string) error {
	if err := CheckLogFormat(format); err != nil {
		return err
	}
	l := &requestLog{w: w}
	if format == "json" {
		l.json = slog.New(slog.NewJSONHandler(w, nil))
	}
	prev := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		// Wrapped before prev's retries, so that it sees every attempt.
		c.Wrap(l.wrap)
		if prev != nil {
			return prev(c)
		}
		return c
	}
	return nil
}

type requestLog struct {
	mu   sync.Mutex
	w    io.Writer
	json *slog.Logger
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(req *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		l.log(req, resp, err, time.Since(start))
		return resp, err
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }

func (l *requestLog) log(req *http.Request, resp *http.Response, err error, d time.Duration) {
	u := redactURL(req.URL)
	ms := float64(d.Microseconds()) / 1000
	if l.json != nil {
		attrs := []any{"verb", req.Method, "url", u}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		} else {
			attrs = append(attrs, "status", resp.StatusCode)
		}
		attrs = append(attrs, "duration_ms", ms)
		l.json.Info("api request", attrs...)
		return
	}
	status := ""
	if err != nil {
		status = "error: " + err.Error()
	} else {
		status = resp.Status
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, "k8sh: %s %s %s in %.1f ms\n", req.Method, u, status, ms)
}

// redactURL is u without a password, and without the values of query
// parameters that carry credentials.
func redactURL(u *url.URL) string {
	c := *u
	if q := c.Query(); len(q) > 0 {
		changed := false
		for k := range q {
			switch k {
			case "token", "access_token", "password", "secret":
				q.Set(k, "REDACTED")
				changed = true
			}
		}
		if changed {
			c.RawQuery = q.Encode()
		}
	}
	return c.Redacted()
}

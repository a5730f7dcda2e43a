package fake

import (
	"io"
	"net/http"
	"sync"
)

// Transport returns an http.RoundTripper that serves each request with h in
// this process: no connection is made. Answers stream (a watch's events
// reach the client as h writes them); closing an answer's body ends h's
// writing, as a client closing its connection does.
func Transport(h http.Handler) http.RoundTripper { return roundTripper{h} }

type roundTripper struct{ h http.Handler }

func (rt roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &responseWriter{header: http.Header{}, body: pw, ready: make(chan struct{})}
	go func() {
		defer func() {
			rw.WriteHeader(http.StatusOK) // an answer with no body
			pw.Close()
		}()
		rt.h.ServeHTTP(rw, req)
	}()
	select {
	case <-rw.ready:
	case <-req.Context().Done():
		pr.CloseWithError(req.Context().Err())
		return nil, req.Context().Err()
	}
	return &http.Response{
		Status: http.StatusText(rw.code), StatusCode: rw.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: rw.sent, Body: pr, Request: req, ContentLength: -1,
	}, nil
}

// responseWriter hands the answer to RoundTrip once its header is written.
type responseWriter struct {
	header http.Header
	sent   http.Header
	body   *io.PipeWriter
	code   int
	once   sync.Once
	ready  chan struct{}
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.sent = w.header.Clone()
		close(w.ready)
	})
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

// Flush is a no-op: what is written reaches the reader at once.
func (w *responseWriter) Flush() {}

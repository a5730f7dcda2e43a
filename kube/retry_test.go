package kube

import (
	"context"
	"errors"
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

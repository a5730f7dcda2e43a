package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
	"k8s.io/kubectl/pkg/util"
	streamhttp "k8s.io/streaming/pkg/httpstream"
)

// ForwardedPort is one port of a Forward: Local on the forward's address
// goes to Remote of the pod.
type ForwardedPort struct {
	Local, Remote uint16
}

// Forward forwards local ports to a pod, as kubectl port-forward does, but
// it outlives what ends kubectl's (kubectl issues 1169 and 1363): an error
// on one connection's streams ends that connection only, and when the
// tunnel to the apiserver drops, or the pod goes away (deleted, replaced by
// its ReplicaSet), it picks the target's pod again and reconnects, saying
// so in one line on ErrOut. A local connection made meanwhile waits for the
// new tunnel (up to ReconnectWait) instead of being refused.
type Forward struct {
	c                   *Client
	kind, name, ns      string
	specs               []string // the ports as asked, kubectl's syntax
	isService           bool
	address             string
	errOut              io.Writer
	ports               []ForwardedPort
	listeners           []net.Listener
	ctx                 context.Context
	cancel              context.CancelFunc
	wg                  sync.WaitGroup
	done                chan struct{}
	err                 error
	requestMu           sync.Mutex
	requestID           int
	mu                  sync.Mutex
	pod                 string
	tunnel              streamhttp.Connection
	ready               chan struct{} // closed while tunnel is usable
	conns               map[net.Conn]struct{}
	stopOnce, closeOnce sync.Once
}

// ReconnectWait bounds how long a new local connection waits for a
// reconnecting forward, and how long the forward tries to reconnect before
// it gives up and ends.
var ReconnectWait = 60 * time.Second

// PortForward starts forwarding ports (kubectl's syntax: "8080:80", "80",
// ":80" or "0:80" for a free local port, "8080:http" for a named container
// port, or for a Service a service port, translated to its targetPort as
// kubectl does) on address to the pod of kind/name in namespace that
// PodForObject picks. It returns once the listeners are up.
func (c *Client) PortForward(ctx context.Context, kind, name, namespace string, ports []string, address string, errOut io.Writer) (*Forward, error) {
	if len(ports) == 0 {
		return nil, errors.New("at least 1 port is required")
	}
	if namespace == "" {
		if err := c.init(); err != nil {
			return nil, err
		}
		namespace = c.namespace
	}
	if errOut == nil {
		errOut = io.Discard
	}
	f := &Forward{c: c, kind: kind, name: name, ns: namespace, specs: ports, address: address, errOut: errOut,
		done: make(chan struct{}), conns: map[net.Conn]struct{}{}}
	pod, remotes, err := f.resolve(ctx)
	if err != nil {
		return nil, err
	}
	tunnel, err := f.dial(pod)
	if err != nil {
		return nil, err
	}
	for i, spec := range ports {
		local, _ := splitPort(spec)
		l := uint64(0)
		if local != "" {
			if l, err = strconv.ParseUint(local, 10, 16); err != nil {
				f.closeListeners()
				tunnel.Close()
				return nil, fmt.Errorf("invalid local port %q in %q", local, spec)
			}
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(address, strconv.FormatUint(l, 10)))
		if err != nil {
			f.closeListeners()
			tunnel.Close()
			return nil, fmt.Errorf("unable to listen on port %d: %w", l, err)
		}
		_, p, _ := net.SplitHostPort(ln.Addr().String())
		lp, _ := strconv.ParseUint(p, 10, 16)
		f.listeners = append(f.listeners, ln)
		f.ports = append(f.ports, ForwardedPort{Local: uint16(lp), Remote: remotes[i]})
	}
	f.ctx, f.cancel = context.WithCancel(context.Background())
	f.pod, f.tunnel, f.ready = pod, tunnel, make(chan struct{})
	close(f.ready)
	for i, ln := range f.listeners {
		f.wg.Add(1)
		go f.accept(ln, i)
	}
	f.wg.Add(1)
	go f.supervise()
	return f, nil
}

// Ports are the forwarded ports, the free local ones chosen.
func (f *Forward) Ports() []ForwardedPort {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ForwardedPort(nil), f.ports...)
}

// Address is where the forward listens.
func (f *Forward) Address() string { return f.address }

// Target is what was asked for: "pod/web", "deploy/web", ...
func (f *Forward) Target() string { return f.kind + "/" + f.name }

// Namespace is the target's namespace.
func (f *Forward) Namespace() string { return f.ns }

// Pod is the pod forwarded to now.
func (f *Forward) Pod() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pod
}

// Lines are kubectl port-forward's lines for the forward: "Forwarding from
// 127.0.0.1:PORT -> 80", one per port.
func (f *Forward) Lines() []string {
	var out []string
	for _, p := range f.Ports() {
		out = append(out, fmt.Sprintf("Forwarding from %s -> %d", net.JoinHostPort(f.address, strconv.Itoa(int(p.Local))), p.Remote))
	}
	return out
}

// Done is closed when the forward has ended (Stop, or it gave up
// reconnecting); Err then tells why ("" after Stop).
func (f *Forward) Done() <-chan struct{} { return f.done }

// Err is why the forward ended: nil after Stop.
func (f *Forward) Err() error {
	<-f.done
	return f.err
}

// Stop ends the forward: listeners, open connections and the tunnel are
// closed, and every goroutine of it has returned when Stop returns.
func (f *Forward) Stop() {
	f.end(nil)
	<-f.done
}

func (f *Forward) end(err error) {
	f.stopOnce.Do(func() {
		f.err = err
		f.cancel()
		f.closeListeners()
		f.mu.Lock()
		if f.tunnel != nil {
			f.tunnel.Close()
		}
		for c := range f.conns {
			c.Close()
		}
		f.mu.Unlock()
		go func() {
			f.wg.Wait()
			close(f.done)
		}()
	})
}

func (f *Forward) closeListeners() {
	for _, ln := range f.listeners {
		ln.Close()
	}
}

func splitPort(port string) (local, remote string) {
	if l, r, ok := strings.Cut(port, ":"); ok {
		return l, r
	}
	return port, port
}

// resolve picks the target's pod, as PodForObject does, and translates the
// remote ports for it as kubectl port-forward does: a Service's ports to
// their targetPort in that pod, a named port to its number.
func (f *Forward) resolve(ctx context.Context) (string, []uint16, error) {
	podName, err := f.c.PodForObject(ctx, f.kind, f.name, f.ns)
	if err != nil {
		return "", nil, err
	}
	cs, err := f.c.clientset()
	if err != nil {
		return "", nil, err
	}
	pod, err := cs.CoreV1().Pods(f.ns).Get(ctx, podName, metav1.GetOptions{})
	if err != nil {
		return "", nil, apiError(err, f.ns)
	}
	if pod.Status.Phase != corev1.PodRunning {
		return "", nil, fmt.Errorf("unable to forward port because pod is not running. Current status=%v", pod.Status.Phase)
	}
	if pod.DeletionTimestamp != nil {
		return "", nil, fmt.Errorf("unable to forward port because pod %s is being deleted", pod.Name)
	}
	var svc *corev1.Service
	if k := strings.ToLower(f.kind); k == "svc" || k == "service" || k == "services" {
		if svc, err = cs.CoreV1().Services(f.ns).Get(ctx, f.name, metav1.GetOptions{}); err != nil {
			return "", nil, apiError(err, f.ns)
		}
	}
	var remotes []uint16
	for _, spec := range f.specs {
		_, remote := splitPort(spec)
		if remote == "" {
			return "", nil, fmt.Errorf("remote port cannot be empty in %q", spec)
		}
		n, err := strconv.ParseUint(remote, 10, 16)
		switch {
		case svc != nil:
			// kubectl's translateServicePortToTargetPort.
			if err != nil {
				p, err := util.LookupServicePortNumberByName(*svc, remote)
				if err != nil {
					return "", nil, err
				}
				n = uint64(p)
			}
			cp, err := util.LookupContainerPortNumberByServicePort(*svc, *pod, int32(n))
			if err != nil {
				return "", nil, err
			}
			n = uint64(cp)
		case err != nil:
			p, err := util.LookupContainerPortNumberByName(*pod, remote)
			if err != nil {
				return "", nil, err
			}
			n = uint64(p)
		}
		if n == 0 {
			return "", nil, fmt.Errorf("remote port must be > 0 in %q", spec)
		}
		remotes = append(remotes, uint16(n))
	}
	return pod.Name, remotes, nil
}

// dial opens the tunnel to pod's portforward subresource as kubectl 1.37
// does: SPDY over a WebSocket, falling back to SPDY when the server cannot
// upgrade to it.
func (f *Forward) dial(pod string) (streamhttp.Connection, error) {
	cs, err := f.c.clientset()
	if err != nil {
		return nil, err
	}
	u := cs.CoreV1().RESTClient().Post().Resource("pods").Namespace(f.ns).Name(pod).SubResource("portforward").URL()
	transport, upgrader, err := spdy.RoundTripperFor(f.c.config)
	if err != nil {
		return nil, err
	}
	dialer := spdy.NewDialerForStreaming(upgrader, &http.Client{Transport: transport}, http.MethodPost, u)
	tunneling, err := portforward.NewSPDYOverWebsocketDialerForStreaming(u, f.c.config)
	if err != nil {
		return nil, err
	}
	dialer = portforward.NewFallbackDialerForStreaming(tunneling, dialer, func(err error) bool {
		return streamhttp.IsUpgradeFailure(err) || streamhttp.IsHTTPSProxyError(err)
	})
	conn, protocol, err := dialer.Dial(portforward.PortForwardProtocolV1Name)
	if err != nil {
		return nil, fmt.Errorf("error upgrading connection: %w", err)
	}
	if protocol != portforward.PortForwardProtocolV1Name {
		conn.Close()
		return nil, fmt.Errorf("unable to negotiate protocol: client supports %q, server returned %q", portforward.PortForwardProtocolV1Name, protocol)
	}
	return conn, nil
}

func (f *Forward) accept(ln net.Listener, i int) {
	defer f.wg.Done()
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed by Stop
		}
		f.mu.Lock()
		if f.ctx.Err() != nil {
			f.mu.Unlock()
			conn.Close()
			return
		}
		f.conns[conn] = struct{}{}
		port := f.ports[i]
		f.wg.Add(1)
		f.mu.Unlock()
		go func() {
			defer f.wg.Done()
			f.handle(conn, port)
			f.mu.Lock()
			delete(f.conns, conn)
			f.mu.Unlock()
		}()
	}
}

// current is the tunnel to use, waiting for a reconnect (bounded).
func (f *Forward) current() (streamhttp.Connection, error) {
	t := time.NewTimer(ReconnectWait)
	defer t.Stop()
	for {
		f.mu.Lock()
		ready := f.ready
		f.mu.Unlock()
		select {
		case <-ready:
		case <-f.ctx.Done():
			return nil, f.ctx.Err()
		case <-t.C:
			return nil, fmt.Errorf("no tunnel to the pod after %s", ReconnectWait)
		}
		f.mu.Lock()
		tunnel := f.tunnel
		if tunnel == nil {
			f.mu.Unlock()
			return nil, errors.New("the forward has ended")
		}
		select {
		case <-tunnel.CloseChan():
			// Closed, and the supervisor has not begun to reconnect yet:
			// wait for it.
			f.notReady()
			f.mu.Unlock()
			continue
		default:
		}
		f.mu.Unlock()
		return tunnel, nil
	}
}

// notReady makes new connections wait for the next tunnel; f.mu is held.
func (f *Forward) notReady() {
	select {
	case <-f.ready:
		f.ready = make(chan struct{})
	default:
	}
}

// broken marks tunnel as unusable: the supervisor reconnects.
func (f *Forward) broken(tunnel streamhttp.Connection) {
	tunnel.Close()
}

func (f *Forward) nextRequestID() int {
	f.requestMu.Lock()
	defer f.requestMu.Unlock()
	id := f.requestID
	f.requestID++
	return id
}

// handle carries one local connection through the tunnel, as client-go's
// PortForwarder.handleConnection does, except that an error ends this
// connection only. When the tunnel turns out broken before any data went
// through it, it tries again on the next one (twice at most).
func (f *Forward) handle(conn net.Conn, port ForwardedPort) {
	defer conn.Close()
	for attempt := 0; ; attempt++ {
		tunnel, err := f.current()
		if err != nil {
			if f.ctx.Err() == nil {
				fmt.Fprintf(f.errOut, "k8s.port_forward: connection to %s: %v\n", net.JoinHostPort(f.address, strconv.Itoa(int(port.Local))), err)
			}
			return
		}
		retry := f.carry(conn, tunnel, port)
		if !retry || attempt >= 2 || f.ctx.Err() != nil {
			return
		}
		f.broken(tunnel)
	}
}

// carry copies conn to and from new streams of tunnel; it returns true when
// the streams could not be made (the tunnel is broken, nothing was read
// from conn).
func (f *Forward) carry(conn net.Conn, tunnel streamhttp.Connection, port ForwardedPort) bool {
	requestID := f.nextRequestID()
	headers := http.Header{}
	headers.Set(corev1.StreamType, corev1.StreamTypeError)
	headers.Set(corev1.PortHeader, strconv.Itoa(int(port.Remote)))
	headers.Set(corev1.PortForwardRequestIDHeader, strconv.Itoa(requestID))
	errorStream, err := tunnel.CreateStream(headers)
	if err != nil {
		return true
	}
	errorStream.Close()
	defer tunnel.RemoveStreams(errorStream)
	errc := make(chan error, 1)
	go func() {
		msg, err := io.ReadAll(errorStream)
		switch {
		case err != nil:
			errc <- fmt.Errorf("reading the error stream: %w", err)
		case len(msg) > 0:
			errc <- errors.New(string(msg))
		default:
			errc <- nil
		}
	}()
	headers.Set(corev1.StreamType, corev1.StreamTypeData)
	dataStream, err := tunnel.CreateStream(headers)
	if err != nil {
		errorStream.Reset()
		<-errc
		return true
	}
	defer tunnel.RemoveStreams(dataStream)

	remoteDone := make(chan struct{})
	localDone := make(chan struct{})
	go func() {
		buf := make([]byte, copyBuffer)
		io.CopyBuffer(conn, dataStream, buf)
		close(remoteDone)
	}()
	go func() {
		defer close(localDone)
		defer dataStream.Close()
		buf := make([]byte, copyBuffer)
		io.CopyBuffer(dataStream, conn, buf)
	}()
	select {
	case <-remoteDone:
	case <-localDone:
		// The local side ended (EOF: dataStream is half-closed); the reply
		// still comes until the remote closes its side.
		select {
		case <-remoteDone:
		case <-f.ctx.Done():
		case <-tunnel.CloseChan():
		}
	case <-f.ctx.Done():
	case <-tunnel.CloseChan():
	}
	dataStream.Reset()
	conn.Close()
	<-remoteDone
	<-localDone
	var perr error
	select {
	case perr = <-errc:
	case <-f.ctx.Done():
	case <-tunnel.CloseChan():
	}
	if perr != nil && f.ctx.Err() == nil {
		fmt.Fprintf(f.errOut, "k8s.port_forward: an error occurred forwarding %d -> %d: %v\n", port.Local, port.Remote, perr)
	}
	return false
}

const copyBuffer = 256 << 10

// supervise reconnects when the tunnel closes or the pod goes away, until
// Stop.
func (f *Forward) supervise() {
	defer f.wg.Done()
	for {
		f.mu.Lock()
		tunnel, pod := f.tunnel, f.pod
		f.mu.Unlock()
		gone := make(chan struct{})
		wctx, wcancel := context.WithCancel(f.ctx)
		var wwg sync.WaitGroup
		wwg.Add(1)
		go func() {
			defer wwg.Done()
			f.watchPod(wctx, pod, gone)
		}()
		why := ""
		select {
		case <-f.ctx.Done():
		case <-tunnel.CloseChan():
			why = "connection lost"
		case <-gone:
			why = "gone"
		}
		wcancel()
		wwg.Wait()
		if f.ctx.Err() != nil {
			return
		}
		f.mu.Lock()
		f.notReady()
		f.mu.Unlock()
		tunnel.Close()
		newPod, newTunnel, err := f.reconnect(pod, why == "gone")
		if err != nil {
			if f.ctx.Err() == nil {
				fmt.Fprintf(f.errOut, "k8s.port_forward: %s/%s: pod/%s %s; giving up: %v\n", f.kind, f.name, pod, why, err)
				f.end(fmt.Errorf("pod/%s %s and no pod to forward to: %w", pod, why, err))
			}
			return
		}
		f.mu.Lock()
		if f.ctx.Err() != nil {
			f.mu.Unlock()
			newTunnel.Close()
			return
		}
		f.pod, f.tunnel = newPod, newTunnel
		close(f.ready)
		f.mu.Unlock()
		if newPod != pod {
			fmt.Fprintf(f.errOut, "k8s.port_forward: pod/%s %s; forwarding to pod/%s\n", pod, why, newPod)
		} else {
			fmt.Fprintf(f.errOut, "k8s.port_forward: pod/%s: %s; reconnected\n", pod, why)
		}
	}
}

// reconnect picks the target's pod again (another than old when old is
// gone) and dials it, retrying with a backoff up to ReconnectWait.
func (f *Forward) reconnect(old string, oldGone bool) (string, streamhttp.Connection, error) {
	deadline := time.Now().Add(ReconnectWait)
	delay := 50 * time.Millisecond
	var last error
	for {
		ctx, cancel := context.WithTimeout(f.ctx, 10*time.Second)
		pod, remotes, err := f.resolve(ctx)
		cancel()
		if err == nil && oldGone && pod == old {
			err = fmt.Errorf("pod/%s is still the one picked", old)
		}
		if err == nil {
			f.mu.Lock()
			for i := range f.ports {
				f.ports[i].Remote = remotes[i]
			}
			f.mu.Unlock()
			var t streamhttp.Connection
			if t, err = f.dial(pod); err == nil {
				return pod, t, nil
			}
		}
		last = err
		if time.Now().After(deadline) {
			return "", nil, last
		}
		select {
		case <-f.ctx.Done():
			return "", nil, f.ctx.Err()
		case <-time.After(delay):
		}
		if delay < time.Second {
			delay *= 2
		}
	}
}

// watchPod closes gone when pod is deleted, being deleted or no longer
// running, watching it until ctx ends.
func (f *Forward) watchPod(ctx context.Context, pod string, gone chan struct{}) {
	cs, err := f.c.clientset()
	if err != nil {
		return
	}
	pods := cs.CoreV1().Pods(f.ns)
	isGone := func(p *corev1.Pod) bool {
		return p.DeletionTimestamp != nil || p.Status.Phase != corev1.PodRunning
	}
	for ctx.Err() == nil {
		p, err := pods.Get(ctx, pod, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			close(gone)
			return
		case err == nil && isGone(p):
			close(gone)
			return
		case err == nil:
			w, werr := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", pod).String(), ResourceVersion: p.ResourceVersion})
			if werr == nil {
				for ev := range w.ResultChan() {
					p, ok := ev.Object.(*corev1.Pod)
					if ev.Type == watch.Deleted || (ok && isGone(p)) {
						w.Stop()
						close(gone)
						return
					}
				}
				w.Stop()
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

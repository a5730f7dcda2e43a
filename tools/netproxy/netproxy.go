// Package netproxy is a TCP proxy for tests and benchmarks (and, in
// HTTPProxy, an HTTP one that answers, cuts, resets or stalls chosen
// requests: see StartHTTP): it forwards
// connections to a target and can delay every chunk of data it forwards
// (each way), to make a loopback server look like one across a network, and
// inject faults: cut every open connection, cut the next answer after N
// bytes, or refuse new connections.
//
// The delay is a latency, not a bandwidth limit: each chunk read is written
// Delay after it was read, and chunks read meanwhile follow in order.
package netproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy forwards the connections it accepts to Target.
type Proxy struct {
	// Target is the host:port connections are forwarded to.
	Target string

	delay    atomic.Int64 // time.Duration, each way
	refuse   atomic.Bool
	cutAfter atomic.Int64 // > 0: cut the next connection whose answers pass this many bytes
	cutGen   atomic.Int64 // counts CutAfter calls: bytes are counted from the last
	ln       net.Listener
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	wg       sync.WaitGroup
	closing  atomic.Bool
	// Accepted counts the connections accepted.
	Accepted atomic.Int64
}

// Start listens on addr ("127.0.0.1:0" for a free port) and forwards to
// target, delaying data by delay each way. Addr tells where it listens.
func Start(addr, target string, delay time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Target: target, ln: ln, conns: map[net.Conn]struct{}{}}
	p.delay.Store(int64(delay))
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// Addr is the host:port the proxy listens on.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetDelay changes the delay of data forwarded from now on.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Refuse makes the proxy close new connections at once (true) or forward
// them again (false).
func (p *Proxy) Refuse(on bool) { p.refuse.Store(on) }

// CutAfter makes the proxy cut the first connection that forwards more than
// n bytes from the target from now on (an answer broken off in its
// middle), once: it forwards those n bytes, then closes both ends. 0
// cancels it.
func (p *Proxy) CutAfter(n int64) {
	p.cutAfter.Store(n)
	p.cutGen.Add(1)
}

// CutAll closes every open connection, both ends, as a network failure
// would.
func (p *Proxy) CutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// Close stops listening, cuts every connection and waits for the proxy's
// goroutines to end.
func (p *Proxy) Close() error {
	p.closing.Store(true)
	err := p.ln.Close()
	p.CutAll()
	p.wg.Wait()
	return err
}

func (p *Proxy) track(c net.Conn, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if on {
		p.conns[c] = struct{}{}
	} else {
		delete(p.conns, c)
	}
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if p.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		p.Accepted.Add(1)
		if p.refuse.Load() {
			c.Close()
			continue
		}
		p.wg.Add(1)
		go p.handle(c)
	}
}

func (p *Proxy) handle(down net.Conn) {
	defer p.wg.Done()
	up, err := net.Dial("tcp", p.Target)
	if err != nil {
		down.Close()
		return
	}
	p.track(down, true)
	p.track(up, true)
	defer func() {
		p.track(down, false)
		p.track(up, false)
		down.Close()
		up.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { p.pipe(up, down, false); done <- struct{}{} }()
	go func() { p.pipe(down, up, true); done <- struct{}{} }()
	<-done
	// One direction ended: end the other too, as a closed socket would.
	down.Close()
	up.Close()
	<-done
}

type chunk struct {
	data []byte
	buf  *[]byte // data's buffer, back to bufs once written
	due  time.Time
}

// bufs are the read buffers of the pipes: a buffer is taken for each read
// and given back once its chunk is written, so that a proxy's own
// allocations (and the garbage collection they cause, in the process of a
// benchmark that measures its client) do not grow with the data it
// forwards.
var bufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pipe copies src to dst, each chunk Delay after it was read; answers
// (from the target) may be cut by CutAfter.
func (p *Proxy) pipe(dst, src net.Conn, answers bool) {
	var sent, gen int64 // bytes sent since CutAfter call number gen
	ch := make(chan chunk, 1024)
	go func() {
		defer close(ch)
		for {
			buf := bufs.Get().(*[]byte)
			n, err := src.Read(*buf)
			if n > 0 {
				ch <- chunk{(*buf)[:n], buf, time.Now().Add(time.Duration(p.delay.Load()))}
			} else {
				bufs.Put(buf)
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range ch {
		if d := time.Until(c.due); d > 0 {
			time.Sleep(d)
		}
		if g := p.cutGen.Load(); g != gen {
			gen, sent = g, 0
		}
		if limit := p.cutAfter.Load(); answers && limit > 0 && sent+int64(len(c.data)) > limit && p.cutAfter.CompareAndSwap(limit, 0) {
			dst.Write(c.data[:limit-sent])
			dst.Close()
			src.Close()
			for range ch { // let the reader end
			}
			return
		}
		sent += int64(len(c.data))
		_, err := dst.Write(c.data)
		bufs.Put(c.buf)
		if err != nil {
			src.Close()
			for range ch { // let the reader end
			}
			return
		}
	}
	if tc, ok := dst.(*net.TCPConn); ok {
		tc.CloseWrite()
	}
}

var _ io.Closer = (*Proxy)(nil)

package repl

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"golang.org/x/term"
)

// Terminal is the user's terminal, lent whole to a program that needs it
// raw (a shell in a pod) while a statement runs. Between two statements
// readline neither reads the terminal nor holds it raw (it reads only
// inside Readline), so Raw can take it and give it back as it found it.
type Terminal struct {
	In, Out *os.File
}

// IsTerminal tells whether both In and Out are terminals.
func (t *Terminal) IsTerminal() bool {
	return t != nil && t.In != nil && t.Out != nil &&
		term.IsTerminal(int(t.In.Fd())) && term.IsTerminal(int(t.Out.Fd()))
}

// restoreSignals are the signals that end k8sh while the terminal is raw:
// the terminal is restored first, then the signal does what it does.
var restoreSignals = []os.Signal{syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// Raw runs fn with the terminal in raw mode: in reads the keys as they are
// typed (Ctrl-C, Ctrl-D and Ctrl-Z among them, as bytes), out writes to the
// screen, and size reports the terminal's size, its first call at once,
// each later one when the size changes (SIGWINCH), ok false once fn has
// returned. Whatever fn does (an error, a panic, a connection that drops),
// the terminal's mode is restored when it returns, and in stops reading
// from the terminal so that nothing typed afterwards is lost to it. A
// SIGTERM, SIGHUP or SIGQUIT received meanwhile restores the terminal
// before it takes effect.
func (t *Terminal) Raw(fn func(in io.Reader, out io.Writer, size func() (width, height uint16, ok bool)) error) error {
	if !t.IsTerminal() {
		return errors.New("standard input and output are not a terminal")
	}
	fd := int(t.In.Fd())
	in, err := newStopReader(fd)
	if err != nil {
		return err
	}
	defer in.stop()
	state, err := term.MakeRaw(fd)
	if err != nil {
		return err
	}
	var once sync.Once
	restore := func() { once.Do(func() { term.Restore(fd, state) }) }
	defer restore()

	done := make(chan struct{})
	defer close(done)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, restoreSignals...)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			restore()
			in.stop()
			signal.Reset(s)
			syscall.Kill(os.Getpid(), s.(syscall.Signal)) //nolint:errcheck
		case <-done:
		}
	}()

	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	defer signal.Stop(winch)
	outFd, first := int(t.Out.Fd()), true
	size := func() (uint16, uint16, bool) {
		if !first {
			select {
			case <-winch:
			case <-done:
				return 0, 0, false
			}
		}
		first = false
		w, h, err := term.GetSize(outFd)
		if err != nil {
			return 0, 0, false
		}
		return uint16(w), uint16(h), true
	}
	return fn(in, t.Out, size)
}

// stopReader reads a terminal through a file description of its own,
// opened anew and non-blocking, so that stop ends a Read in progress: a
// goroutine left reading the terminal would take the next keys typed at
// the prompt. The description is not the one k8sh's standard input and
// output share (a shell opens the terminal once for all three), which
// stays blocking: writes to the screen never meet EAGAIN.
type stopReader struct {
	f       *os.File
	once    sync.Once
	stopped chan struct{}
}

func newStopReader(fd int) (*stopReader, error) {
	// Opening the terminal's device makes a pollable File (the runtime
	// sets it non-blocking), whose Read a deadline interrupts.
	f, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", fd), os.O_RDONLY|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("opening the terminal to read it: %w", err)
	}
	return &stopReader{f: f, stopped: make(chan struct{})}, nil
}

func (r *stopReader) Read(p []byte) (int, error) {
	select {
	case <-r.stopped:
		return 0, io.EOF
	default:
	}
	n, err := r.f.Read(p)
	if err != nil {
		select {
		case <-r.stopped:
			return n, io.EOF
		default:
		}
	}
	return n, err
}

func (r *stopReader) stop() {
	r.once.Do(func() {
		close(r.stopped)
		r.f.SetReadDeadline(time.Now()) //nolint:errcheck
		r.f.Close()
	})
}

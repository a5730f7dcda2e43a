package builtins

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"go.starlark.net/starlark"

	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/internal/starerr"
	"github.com/k8sh/k8sh/lib/sys"
)

// Background is the background work of one session: what runs Starlark
// while the program does something else (k8s.on's handlers; at merge,
// k8s.controller's reconciles). BackgroundOf gives a session's.
//
// # The turn
//
// Starlark values are not safe for concurrent use, and the REPL's globals
// are not frozen: at most one goroutine runs Starlark code of a session at
// a time. That goroutine has the session's turn. The main thread has it
// while it runs (a script from its start to its end, the REPL while it
// evaluates a statement) and lends it while it waits: the REPL while it
// reads a line (Turn), k8s.run while it waits (Wait). Background work
// takes the turn with Acquire(ctx) before each call into Starlark and
// gives it back with Release after; Acquire fails once ctx ends, so that
// stopping a task never waits for the turn. A Background starts with the
// turn held by the main thread: in a script that never calls k8s.run,
// background work never runs.
//
// # Tasks
//
// Add registers a Task: a name, a Stop func that asks it to end (it must
// not wait for the turn: it cancels the context the task's Acquire uses),
// a Done channel closed once it has ended, and an Err telling why it ended.
// A task leaves the registry when Done closes; if it ended with an error,
// the error is kept for Wait to report. Stop asks every task to end;
// StopAll also waits for them.
//
// # Waiting (k8s.run)
//
// Wait lends the turn until RequestStop is called (k8s.stop()), the
// timeout passes, ctx ends (Ctrl-C, --timeout), or no task is left; then it
// stops every task, waits until each is done, takes the turn back, and
// returns why it ended and the errors of the tasks that failed meanwhile.
//
// # Output
//
// Background work prints with Print and reports errors with Report: to
// the writers SetOutput gave (in the REPL, ones that print above the
// prompt and redraw the line being edited), else to the session's
// standard output and error; an error as the REPL shows one, with its
// backtrace, terminal escapes made harmless.
type Background struct {
	s    *Session
	turn chan struct{} // holds the token when no one has the turn

	mu       sync.Mutex
	tasks    []*Task
	failed   []error       // errors of tasks that ended by one, for Wait
	changed  chan struct{} // signalled when a task ends
	stopReq  chan struct{} // closed by RequestStop while Wait waits
	lends    int           // how many times the main thread has lent the turn
	unrun    map[*Task]int // tasks, by the value of lends when they were added
	waiting  bool
	out, err io.Writer
	outMu    sync.Mutex
}

// Task is one piece of background work (see Background).
type Task struct {
	// Name says what it is, in messages: "handler 2 (configmaps)".
	Name string
	// Stop asks the task to end. It must return at once, and never wait
	// for the turn. It may be called more than once.
	Stop func()
	// Done is closed once the task has ended: it runs no more Starlark
	// and holds no connection.
	Done <-chan struct{}
	// Err, if set, tells why the task ended once Done is closed: nil when
	// it was stopped.
	Err func() error
}

// backgrounds are the Background of each session.
var backgrounds = struct {
	sync.Mutex
	m map[*Session]*Background
}{m: map[*Session]*Background{}}

// BackgroundOf returns the background work of session s, made on first
// use with the turn held by the main thread.
func BackgroundOf(s *Session) *Background {
	backgrounds.Lock()
	defer backgrounds.Unlock()
	bg := backgrounds.m[s]
	if bg == nil {
		bg = &Background{s: s, turn: make(chan struct{}, 1), changed: make(chan struct{}, 1)}
		backgrounds.m[s] = bg
	}
	return bg
}

// StopBackground ends the background work of thread's session when the
// session ends: it stops every task and waits for them. A script that
// registered work and never lent the turn (never called k8s.run) is told
// on stderr that it never ran.
func StopBackground(thread *starlark.Thread) {
	s, _ := thread.Local(sessionKey).(*Session)
	backgrounds.Lock()
	bg := backgrounds.m[s]
	delete(backgrounds.m, s)
	backgrounds.Unlock()
	if bg == nil {
		return
	}
	bg.mu.Lock()
	n := 0
	for _, t := range bg.tasks {
		if bg.unrun[t] == bg.lends {
			n++ // the turn was never lent since it was added
		}
	}
	bg.mu.Unlock()
	if n > 0 {
		what := "1 handler"
		if n > 1 {
			what = fmt.Sprintf("%d handlers", n)
		}
		bg.Report(fmt.Sprintf("k8sh: %s registered with k8s.on never ran: the program ended without calling k8s.run()", what), nil)
	}
	bg.StopAll()
}

// Acquire takes the turn for background work, waiting for it; it fails
// when ctx ends first.
func (bg *Background) Acquire(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	select {
	case <-bg.turn:
		if ctx.Err() != nil { // both were ready: stopping wins
			bg.turn <- struct{}{}
			return ctx.Err()
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Release gives the turn back.
func (bg *Background) Release() {
	select {
	case bg.turn <- struct{}{}:
	default:
		panic("k8sh: the turn released twice")
	}
}

// lend gives the main thread's turn to background work; take takes it
// back, waiting for the call that has it to end.
func (bg *Background) lend() {
	bg.mu.Lock()
	bg.lends++
	bg.mu.Unlock()
	bg.turn <- struct{}{}
}

func (bg *Background) take() { <-bg.turn }

// Turn is the main thread's side of the turn, for the REPL: Unlock lends
// it while the REPL reads a line, Lock takes it back before the line runs,
// and TryLock takes it within d if it can (completion, which evaluates
// names while the user types, and must not wait for a long call).
func (bg *Background) Turn() *Turn { return &Turn{bg: bg} }

// Turn is the main thread's side of a session's turn (Background.Turn).
type Turn struct{ bg *Background }

func (t *Turn) Lock()   { t.bg.take() }
func (t *Turn) Unlock() { t.bg.lend() }

// TryLock takes the turn if it is free within d.
func (t *Turn) TryLock(d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.bg.turn:
		return true
	case <-timer.C:
		return false
	}
}

// Add registers t; it leaves the registry once t.Done is closed.
func (bg *Background) Add(t *Task) {
	bg.mu.Lock()
	bg.tasks = append(bg.tasks, t)
	if bg.unrun == nil {
		bg.unrun = map[*Task]int{}
	}
	bg.unrun[t] = bg.lends
	bg.mu.Unlock()
	go func() {
		<-t.Done
		bg.mu.Lock()
		for i, x := range bg.tasks {
			if x == t {
				bg.tasks = append(bg.tasks[:i:i], bg.tasks[i+1:]...)
				break
			}
		}
		delete(bg.unrun, t)
		if t.Err != nil {
			if err := t.Err(); err != nil {
				bg.failed = append(bg.failed, fmt.Errorf("%s: %w", t.Name, err))
			}
		}
		bg.mu.Unlock()
		select {
		case bg.changed <- struct{}{}:
		default:
		}
	}()
}

// Tasks lists the tasks that have not ended, in the order they were added.
func (bg *Background) Tasks() []*Task {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return append([]*Task(nil), bg.tasks...)
}

// Stop asks every task to end, without waiting.
func (bg *Background) Stop() {
	for _, t := range bg.Tasks() {
		t.Stop()
	}
}

// StopAll asks every task to end and waits until each has.
func (bg *Background) StopAll() {
	tasks := bg.Tasks()
	for _, t := range tasks {
		t.Stop()
	}
	for _, t := range tasks {
		<-t.Done
	}
}

// RequestStop is k8s.stop(): it asks every task to end and makes a Wait in
// progress return.
func (bg *Background) RequestStop() {
	bg.mu.Lock()
	if bg.stopReq != nil {
		close(bg.stopReq)
		bg.stopReq = nil
	}
	bg.mu.Unlock()
	bg.Stop()
}

// Waiting tells whether a Wait is in progress.
func (bg *Background) Waiting() bool {
	bg.mu.Lock()
	defer bg.mu.Unlock()
	return bg.waiting
}

// Why a Wait ended.
const (
	WaitStopped     = "stopped"     // RequestStop (k8s.stop())
	WaitTimeout     = "timeout"     // the timeout passed
	WaitInterrupted = "interrupted" // ctx ended (Ctrl-C, --timeout)
	WaitDone        = "done"        // no task left
)

// Wait lends the turn until RequestStop, the timeout (0 for none), ctx's
// end, or no task left, then stops every task, waits for them, and takes
// the turn back. It returns why it ended, and the errors of the tasks that
// ended by one since the last Wait. The caller has the turn.
func (bg *Background) Wait(ctx context.Context, timeout time.Duration) (string, []error) {
	stop := make(chan struct{})
	bg.mu.Lock()
	bg.stopReq, bg.waiting = stop, true
	bg.mu.Unlock()
	defer func() {
		bg.mu.Lock()
		bg.stopReq, bg.waiting = nil, false
		bg.mu.Unlock()
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		timer := time.NewTimer(timeout)
		defer timer.Stop()
		expired = timer.C
	}
	bg.lend()
	var why string
	for why == "" {
		if len(bg.Tasks()) == 0 {
			why = WaitDone
			break
		}
		select {
		case <-stop:
			why = WaitStopped
		case <-expired:
			why = WaitTimeout
		case <-ctx.Done():
			why = WaitInterrupted
		case <-bg.changed:
		}
	}
	bg.StopAll()
	bg.take()
	bg.mu.Lock()
	failed := bg.failed
	bg.failed = nil
	bg.mu.Unlock()
	return why, failed
}

// SetOutput makes background work print to stdout and report errors to
// stderr (nil for the session's standard output and error).
func (bg *Background) SetOutput(stdout, stderr io.Writer) {
	bg.outMu.Lock()
	bg.out, bg.err = stdout, stderr
	bg.outMu.Unlock()
}

// Print writes one line of background output; fallback, if set, prints it
// when no output was set (the main thread's print: a script's stdout).
func (bg *Background) Print(thread *starlark.Thread, msg string, fallback func(*starlark.Thread, string)) {
	bg.outMu.Lock()
	defer bg.outMu.Unlock()
	switch {
	case bg.out != nil:
		io.WriteString(bg.out, msg+"\n")
	case fallback != nil:
		fallback(thread, msg)
	default:
		io.WriteString(os.Stdout, msg+"\n")
	}
}

// Report writes what went wrong in background work: a line saying where,
// then err (if not nil) as the REPL shows a statement's error, with its
// backtrace.
func (bg *Background) Report(what string, err error) {
	bg.outMu.Lock()
	defer bg.outMu.Unlock()
	w := bg.stderr()
	var b strings.Builder
	b.WriteString(what)
	b.WriteByte('\n')
	if err != nil {
		b.WriteString(formatBackground(err))
	}
	io.WriteString(w, printers.EscapeTerminal(b.String()))
}

// stderr is where background work's errors and sys.eprint go: the
// output set (the REPL's, above the prompt), else the session's standard
// error. The caller holds outMu.
func (bg *Background) stderr() io.Writer {
	switch {
	case bg.err != nil:
		return bg.err
	case bg.s != nil && bg.s.Sys.Stderr != nil:
		return bg.s.Sys.Stderr
	}
	return os.Stderr
}

// bgStderr is sys.eprint's writer on a thread of background work.
type bgStderr struct{ bg *Background }

func (w bgStderr) Write(p []byte) (int, error) {
	w.bg.outMu.Lock()
	defer w.bg.outMu.Unlock()
	return w.bg.stderr().Write(p)
}

// formatBackground formats an error of background work as the REPL
// formats a statement's (the message where it happened), then the call
// stack, even of one frame: the function that failed is worth naming.
func formatBackground(err error) string { return starerr.Format(err, true) }

// backgroundKey marks a thread that runs background work (its value is
// the Background): Mutating never asks it for a confirmation and Announce
// says nothing of its changes.
const backgroundKey = "k8sh.background"

// MarkBackground makes thread one that runs background work of bg.
func MarkBackground(thread *starlark.Thread, bg *Background) {
	thread.SetLocal(backgroundKey, bg)
	sys.SetStderr(thread, bgStderr{bg})
}

// inBackground tells whether thread runs background work.
func inBackground(thread *starlark.Thread) bool {
	_, ok := thread.Local(backgroundKey).(*Background)
	return ok
}

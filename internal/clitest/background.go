package clitest

import (
	"bytes"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Proc is a k8sh running in the background (k8sh run), whose output the
// test reads as it comes.
type Proc struct {
	cmd    *exec.Cmd
	stdout *buffer
	stderr *buffer
	done   chan struct{}
	code   int
}

type buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Start starts Bin with args and env added to the test's environment. It is
// killed when the test ends, and when the test binary dies (Pdeathsig).
func Start(t testing.TB, env []string, args ...string) *Proc {
	t.Helper()
	p := &Proc{cmd: exec.Command(Bin, args...), stdout: &buffer{}, stderr: &buffer{}, done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting k8sh: %v", err)
	}
	go func() {
		err := p.cmd.Wait()
		p.code = 0
		if ee, ok := err.(*exec.ExitError); ok {
			p.code = ee.ExitCode()
		} else if err != nil {
			p.code = -1
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// Stdout and Stderr are what it printed so far.
func (p *Proc) Stdout() string { return p.stdout.String() }
func (p *Proc) Stderr() string { return p.stderr.String() }

// Signal sends sig.
func (p *Proc) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Pid is its process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Wait waits at most d for it to exit and returns its exit status, or
// false when it still runs.
func (p *Proc) Wait(d time.Duration) (int, bool) {
	select {
	case <-p.done:
		return p.code, true
	case <-time.After(d):
		return 0, false
	}
}

// WaitStderr waits at most d for a match of re in its stderr and returns
// the submatches; nil when none came (or it exited first).
func (p *Proc) WaitStderr(re *regexp.Regexp, d time.Duration) []string {
	deadline := time.Now().Add(d)
	for {
		if m := re.FindStringSubmatch(p.Stderr()); m != nil {
			return m
		}
		select {
		case <-p.done:
			return re.FindStringSubmatch(p.Stderr())
		default:
		}
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Count is how many lines of its stderr contain s.
func (p *Proc) Count(s string) int {
	n := 0
	for _, l := range strings.Split(p.Stderr(), "\n") {
		if strings.Contains(l, s) {
			n++
		}
	}
	return n
}

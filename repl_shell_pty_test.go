package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/tools/netproxy"
)

// expectRepeat sends s until the screen, from offset from on, matches re
// (a change that takes effect some time after it is made, such as a
// window's size); it returns the offset after the match.
func (tm *ptyTerm) expectRepeat(from int, s string, re *regexp.Regexp) int {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		tm.send(s)
		for range 10 {
			scr := tm.screen()
			if loc := re.FindStringIndex(scr[min(from, len(scr)):]); loc != nil {
				return min(from, len(scr)) + loc[1]
			}
			time.Sleep(50 * time.Millisecond)
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never matched %s; it shows:\n%s", re, tm.screen())
		}
	}
}

// TestREPLShellE2E: k8s.shell in the REPL on a real terminal gives the pod's
// command a TTY that follows the window's size; Ctrl-C interrupts the
// remote command and the remote shell goes on; Ctrl-D and exit N end it
// with their status; afterwards the REPL's terminal is as it was: the
// prompt reads lines, and Ctrl-C is a signal again (interrupting a
// statement). A connection cut in the middle of a shell ends it with an
// error, the terminal restored the same way.
func TestREPLShellE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	proxy, err := netproxy.Start("127.0.0.1:0", strings.TrimPrefix(env.Config.Host, "https://"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "--server", "https://"+proxy.Addr(), "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)

	tm.send("k8s.shell('deploy/web')\r")
	at = tm.expect(at, "exec in sandbox/"+ns+" pod/"+pod+": sh\n")
	// PS1 is written so that the echo of the line typed (by the terminal,
	// before the shell reads it) does not show the prompt it sets.
	tm.send("PS1='remote''> '\r")
	at = tm.expect(at, "remote> ")
	tm.send("echo $POD_NAME; tty\r")
	at = tm.expect(at, pod+"\n/dev/pts/")
	at = tm.expect(at, "remote> ")

	// The size: the window's, then its new one.
	at = tm.expectRepeat(at, "stty size\r", regexp.MustCompile(`\n40 160\n`))
	if err := pty.Setsize(tm.f, &pty.Winsize{Rows: 33, Cols: 111}); err != nil {
		t.Fatal(err)
	}
	at = tm.expectRepeat(at, "stty size\r", regexp.MustCompile(`\n33 111\n`))

	// Ctrl-C goes to the remote command, not to k8sh: the sleep ends at
	// once, killed by SIGINT (status 130), and the remote shell goes on.
	tm.send("sh -c 'echo started; exec sleep 100'\r")
	at = tm.expect(at, "started\n")
	start := time.Now()
	tm.send("\x03")
	at = tm.expect(at, "remote> ")
	tm.send("echo status=$?\r")
	at = tm.expect(at, "status=130\n")
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("the interrupted sleep took %s", d)
	}
	// exit N: its status comes back.
	tm.send("exit 3\r")
	at = tm.expect(at, "\n3\n")
	at = tm.expect(at, prompt)

	// Ctrl-D ends a shell too (status 0); the REPL reads lines again.
	tm.send("code = k8s.shell('" + pod + "', ['sh'])\r")
	at = tm.expect(at, ": sh\n")
	tm.send("PS1='remote2''> '\r")
	at = tm.expect(at, "remote2> ")
	tm.send("\x04")
	at = tm.expect(at, prompt)
	tm.send("code, 1 + 1\r")
	at = tm.expect(at, "(0, 2)\n")
	at = tm.expect(at, prompt)

	// The terminal is cooked again: Ctrl-C is SIGINT, which interrupts a
	// statement.
	interrupts := func() {
		t.Helper()
		tm.send("k8s.exec('" + pod + "', 'sleep 100')\r")
		at = tm.expect(at, "exec in sandbox/"+ns+" pod/"+pod+": sleep 100\n")
		time.Sleep(200 * time.Millisecond)
		tm.send("\x03")
		at = tm.expect(at, prompt)
		tm.send("'after'\r")
		at = tm.expect(at, "\"after\"\n")
		at = tm.expect(at, prompt)
	}
	interrupts()

	// A connection cut in the middle of a shell: the shell ends with an
	// error, and the terminal is the REPL's again.
	tm.send("k8s.shell('" + pod + "')\r")
	at = tm.expect(at, ": sh\n")
	tm.send("PS1='remote3''> '\r")
	at = tm.expect(at, "remote3> ")
	proxy.CutAll()
	at = tm.expect(at, "k8s.shell: pod/"+pod+": ")
	at = tm.expect(at, prompt)
	tm.send("2 + 2\r")
	at = tm.expect(at, "4\n")
	at = tm.expect(at, prompt)
	interrupts()
	tm.send("\x04")
	select {
	case <-tm.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the REPL did not end at Ctrl-D")
	}
}

// TestExecCommandTTYE2E: `k8sh exec -i -t` on a real terminal: a TTY of the
// window's size in the pod, and the command's exit status as k8sh's, after
// kubectl's "command terminated with exit code N".
func TestExecCommandTTYE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	tm := startREPL(t, nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "exec", "deploy/web", "-i", "-t", "--", "sh")
	tm.send("PS1='remote''> '\r")
	at := tm.expect(0, "remote> ")
	tm.send("echo $POD_NAME; stty size\r")
	at = tm.expect(at, pod+"\n40 160\n")
	if err := pty.Setsize(tm.f, &pty.Winsize{Rows: 21, Cols: 77}); err != nil {
		t.Fatal(err)
	}
	at = tm.expectRepeat(at, "stty size\r", regexp.MustCompile(`\n21 77\n`))
	tm.send("exit 5\r")
	tm.expect(at, "command terminated with exit code 5\n")
	<-tm.done
	err := tm.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 5 {
		t.Fatalf("k8sh exec -it ended with %v, want exit status 5", err)
	}
}

// TestShellSIGTERMRestoresE2E: k8sh ended by SIGTERM while a shell holds the
// terminal raw leaves it as it was before the shell (echo and line editing
// on), then dies of the signal as it would have.
func TestShellSIGTERMRestoresE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns)
	at := tm.expect(0, "k8sh sandbox:"+ns+"> ")
	tm.send("k8s.shell('" + pod + "')\r")
	at = tm.expect(at, ": sh\n")
	tm.send("PS1='remote''> '\r")
	tm.expect(at, "remote> ")
	raw, err := unix.IoctlGetTermios(int(tm.f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if raw.Lflag&(unix.ICANON|unix.ECHO|unix.ISIG) != 0 {
		t.Fatalf("the terminal is not raw during the shell: lflag %#x", raw.Lflag)
	}
	// k8sh's stdout (the same open terminal as its stdin) stays blocking
	// while the shell reads the keys: a write to a full terminal waits
	// rather than fail with EAGAIN.
	info, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/1", tm.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	var flags int
	for _, l := range strings.Split(string(info), "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			fmt.Sscanf(strings.TrimSpace(v), "%o", &flags)
		}
	}
	if flags&syscall.O_NONBLOCK != 0 || flags&syscall.O_RDWR == 0 {
		t.Errorf("k8sh's stdout during a shell: flags %#o, want O_RDWR without O_NONBLOCK", flags)
	}
	tm.cmd.Process.Signal(syscall.SIGTERM)
	err = tm.cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Errorf("k8sh ended with %v, want killed by SIGTERM", err)
	}
	cooked, err := unix.IoctlGetTermios(int(tm.f.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if want := uint32(unix.ICANON | unix.ECHO | unix.ISIG); cooked.Lflag&want != want {
		t.Errorf("after SIGTERM the terminal is left raw: lflag %#x", cooked.Lflag)
	}
}

// TestREPLAttachTTYE2E: k8s.attach(tty=True) in the REPL shows the attached
// process's output on the terminal (kwok's attach: what is appended to the
// sandbox's attach.log) and gives the terminal back when timeout= ends it.
// kwok's attach drops what is typed, so the keys' way is not checked here
// (it is k8s.shell's, checked above).
func TestREPLAttachTTYE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ns := kubetest.PrefixNamespace(t, env, "p18-")
	pod := kubetest.CreateWeb(t, env, ns)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)
	tm.send("k8s.attach('" + pod + "', tty=True, timeout='8s')\r")
	at = tm.expect(at, "attach with a terminal in sandbox/"+ns+" pod/"+pod+"\n")
	mark := fmt.Sprintf("attached-tty-%d", time.Now().UnixNano())
	attachLog := filepath.Join(filepath.Dir(env.Kubeconfig), "attach.log")
	for deadline := time.Now().Add(6 * time.Second); !strings.Contains(tm.screen()[at:], mark); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the attach never showed %q: %s", mark, tm.screen()[at:])
		}
		f, err := os.OpenFile(attachLog, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(f, "%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), mark)
		f.Close()
	}
	at = tm.expect(at, prompt)
	tm.send("3 * 3\r")
	at = tm.expect(at, "9\n")
	tm.expect(at, prompt)
}

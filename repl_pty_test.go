package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// ptyTerm is k8sh's REPL on a real pseudo-terminal, read as the user sees it.
type ptyTerm struct {
	t    *testing.T
	f    *os.File
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func startREPL(t *testing.T, env []string, args ...string) *ptyTerm {
	t.Helper()
	cmd := exec.Command(clitest.Bin, args...)
	cmd.Env = append(os.Environ(), env...)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 160})
	if err != nil {
		t.Fatal(err)
	}
	tm := &ptyTerm{t: t, f: f, cmd: cmd, done: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := f.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			tm.mu.Unlock()
			if err != nil {
				close(tm.done)
				return
			}
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		f.Close()
	})
	return tm
}

// screen is everything printed so far, without colours and with line ends
// normalised.
func (tm *ptyTerm) screen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	s := ansi.ReplaceAllString(tm.out.String(), "")
	return strings.ReplaceAll(s, "\r\n", "\n")
}

// rawScreen is everything printed so far, colours included.
func (tm *ptyTerm) rawScreen() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// expect waits until the screen, from offset from on, contains want; it
// returns the offset after it.
func (tm *ptyTerm) expect(from int, want string) int {
	tm.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := tm.screen()
		if from > len(s) {
			from = len(s)
		}
		if i := strings.Index(s[from:], want); i >= 0 {
			return from + i + len(want)
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("the screen never showed %q; it shows:\n%s", want, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tm *ptyTerm) send(s string) {
	tm.t.Helper()
	if _, err := tm.f.Write([]byte(s)); err != nil {
		tm.t.Fatal(err)
	}
}

func TestREPLOnTerminalE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	state := t.TempDir()
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + state, "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)

	// A multi-line for loop continues with "... " until a blank line.
	tm.send("for i in range(3):\r")
	at = tm.expect(at, "... ")
	tm.send("    print('line', i)\r")
	at = tm.expect(at, "... ")
	tm.send("\r")
	at = tm.expect(at, "line 0\nline 1\nline 2\n")
	at = tm.expect(at, prompt)

	// A syntax error shows where, and the session goes on.
	tm.send("x = = 1\r")
	at = tm.expect(at, "<stdin>:1:5: got '=', want primary expression")
	at = tm.expect(at, prompt)
	tm.send("1 + 1\r")
	at = tm.expect(at, "2\n")
	tm.send("_ * 10\r")
	at = tm.expect(at, "20\n")

	// An API error is one line naming the builtin; the session goes on.
	tm.send("k8s.get('pod', 'nope')\r")
	at = tm.expect(at, `k8s.get: pods "nope" not found in namespace "`+env.Namespace+`"`)
	at = tm.expect(at, prompt)

	// Ctrl-C during a long watch cancels it and returns to the prompt.
	tm.send("for ev in k8s.watch('configmaps'): print('event', ev.type)\r")
	tm.send("\r")
	at = tm.expect(at, "event ADDED") // kube-root-ca.crt
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	tm.send("\x03")
	at = tm.expect(at, prompt)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Ctrl-C took %v to return to the prompt", d)
	}
	tm.send("print('still here')\r")
	at = tm.expect(at, "still here")

	// Ctrl-C while typing clears the line.
	tm.send("this is not run")
	tm.send("\x03")
	at = tm.expect(at, prompt)
	tm.send("print('after')\r")
	at = tm.expect(at, "after")
	if strings.Contains(tm.screen(), "undefined: this") {
		t.Error("a line cleared by Ctrl-C was run")
	}

	// help and dir work.
	tm.send("help(k8s.get)\r")
	at = tm.expect(at, "k8s.get(kind, name=None")
	tm.send("dir(k8s)\r")
	at = tm.expect(at, `"get"`)

	// Ctrl-D exits 0.
	tm.expect(at, prompt)
	tm.send("\x04")
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-D did not end the REPL")
	}
	if err := tm.cmd.Wait(); err != nil {
		t.Errorf("exit: %v", err)
	}
	// The history file kept what was typed.
	hist, err := os.ReadFile(filepath.Join(state, "k8sh", "history"))
	if err != nil || !strings.Contains(string(hist), "print('still here')") {
		t.Errorf("history: %q %v", hist, err)
	}
}

// TestREPLEscapesClusterDataE2E: what the REPL echoes of cluster data (a
// table, an object's YAML, a string field, an error quoting the server)
// reaches the terminal with its escapes made harmless: no OSC sequence sets
// the title and no colour from the cluster is turned on.
func TestREPLEscapesClusterDataE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	seedEscapes(t, env, kubectl, "esc"+env.Namespace[len(env.Namespace)-5:]+".k8sh.test")
	denyPolicy(t, env, kubectl)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)

	tm.send("k8s.list('escwidgets')\r")
	at = tm.expect(at, "w1               ^[]0;pwned\x07hello...           ^[[31mred^[[0m\n")
	at = tm.expect(at, prompt)
	tm.send("k8s.list('events')\r")
	at = tm.expect(at, "Warning   Pwn^[[5m   escwidget/w1   ^[]0;pwned\x07title set^[[31m red...\n")
	at = tm.expect(at, prompt)
	tm.send("k8s.get('escwidget', 'w1')\r")
	at = tm.expect(at, `title: "\e]0;pwned\ahello\nsecond line"`)
	at = tm.expect(at, prompt)
	tm.send("k8s.get('escwidget', 'w1').spec.color\r")
	at = tm.expect(at, `"\x1b[31mred\x1b[0m"`)
	at = tm.expect(at, prompt)
	tm.send(`k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c1"}, "data": {"deny": "\x1b]0;pwned\x07 denied\x1b[31m red"}})` + "\r")
	at = tm.expect(at, "denied: ^[]0;pwned\x07 denied^[[31m red")
	tm.expect(at, prompt)

	raw := tm.rawScreen()
	for _, bad := range []string{"\x1b]", "\x1b[31m", "\x1b[5m", "\x1b[0m"} {
		if strings.Contains(raw, bad) {
			t.Errorf("the terminal received %q:\n%q", bad, raw)
		}
	}
}

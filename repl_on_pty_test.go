package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// vt is as much of a terminal as readline's output needs: printable text,
// CR, LF, backspace, and the CSI sequences that move the cursor and erase
// (A B C D G K J H); colours and modes are ignored. Its lines are what a
// user would see at the end.
type vt struct {
	lines    [][]rune
	row, col int
}

func (v *vt) line() []rune {
	for len(v.lines) <= v.row {
		v.lines = append(v.lines, nil)
	}
	return v.lines[v.row]
}

func (v *vt) put(r rune) {
	l := v.line()
	for len(l) <= v.col {
		l = append(l, ' ')
	}
	l[v.col] = r
	v.lines[v.row] = l
	v.col++
	if v.col >= 160 { // the pty's width: readline wraps there
		v.row++
		v.col = 0
	}
}

func (v *vt) write(s string) {
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; {
		case r == '\r':
			v.col = 0
		case r == '\n':
			v.row++
			v.line()
		case r == '\b':
			if v.col > 0 {
				v.col--
			}
		case r == 0x07:
		case r == 0x1b && i+1 < len(rs) && rs[i+1] == '[':
			j := i + 2
			for j < len(rs) && (rs[j] >= '0' && rs[j] <= '9' || rs[j] == ';' || rs[j] == '?') {
				j++
			}
			if j >= len(rs) {
				return
			}
			params := string(rs[i+2 : j])
			n, err := strconv.Atoi(strings.TrimPrefix(params, "?"))
			if err != nil || n == 0 {
				n = 1
			}
			switch rs[j] {
			case 'A':
				v.row = max(0, v.row-n)
			case 'B':
				v.row += n
			case 'C':
				v.col += n
			case 'D':
				v.col = max(0, v.col-n)
			case 'G':
				v.col = n - 1
			case 'K':
				l := v.line()
				switch params {
				case "2":
					v.lines[v.row] = nil
				case "1":
					for k := 0; k < v.col && k < len(l); k++ {
						l[k] = ' '
					}
				default:
					if v.col < len(l) {
						v.lines[v.row] = l[:v.col]
					}
				}
			case 'J':
				v.line()
				if v.col < len(v.lines[v.row]) {
					v.lines[v.row] = v.lines[v.row][:v.col]
				}
				v.lines = v.lines[:v.row+1]
			case 'H':
				v.row, v.col = 0, 0
			}
			i = j
		case r == 0x1b:
			i++ // a two-byte escape
		case r < 0x20:
		default:
			v.put(r)
		}
	}
}

func (v *vt) screen() []string {
	out := make([]string, len(v.lines))
	for i, l := range v.lines {
		out[i] = strings.TrimRight(string(l), " ")
	}
	return out
}

// TestREPLHandlersE2E: in the REPL a handler runs while the user types.
// Its lines appear above the prompt, each whole, and the line being typed
// meanwhile stays intact and runs; an error in a handler is printed with
// its backtrace and the REPL goes on; k8s.handlers() lists the handlers,
// and they stop.
func TestREPLHandlersE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)
	// Each event prints a line to stdout and one to stderr (sys.eprint).
	tm.send(`h = k8s.on("cm", lambda ev: (print("saw", ev.type, ev.object.metadata.name), sys.eprint("err", ev.object.metadata.name)), events="ADDED", selector="on=yes"); print("registered")` + "\r")
	at = tm.expect(at, "\nregistered\n")
	at = tm.expect(at, prompt)

	// Objects are created while the user types "1 + 41", slowly.
	const n = 12
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range n {
			_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(context.Background(), &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("on-%02d", i), Labels: map[string]string{"on": "yes"}},
			}, metav1.CreateOptions{})
			if err != nil {
				t.Errorf("create: %v", err)
			}
			time.Sleep(60 * time.Millisecond)
		}
	}()
	typed := "1 + 41"
	for i, r := range typed {
		tm.send(string(r))
		if i == 2 {
			at = tm.expect(at, "saw ADDED on-00\n") // a line printed while "1 +" is on the line
		}
		time.Sleep(80 * time.Millisecond)
	}
	wg.Wait()
	at = tm.expect(at, fmt.Sprintf("saw ADDED on-%02d\n", n-1))
	tm.send("\r")
	at = tm.expect(at, "\n42\n")
	at = tm.expect(at, prompt)

	// What the user sees: each handler line whole, in order, above the
	// prompt; the typed line intact, then its value.
	var term vt
	term.write(tm.rawScreen())
	screen := term.screen()
	t.Logf("the screen, as a terminal shows it:\n%s", strings.Join(screen, "\n"))
	var saw, errs []string
	typedAt := -1
	for i, l := range screen {
		if strings.HasPrefix(l, "saw ") {
			saw = append(saw, l)
		}
		if strings.HasPrefix(l, "err ") {
			errs = append(errs, l)
		}
		if l == prompt+typed {
			typedAt = i
		}
	}
	var want, wantErrs []string
	for i := range n {
		want = append(want, fmt.Sprintf("saw ADDED on-%02d", i))
		wantErrs = append(wantErrs, fmt.Sprintf("err on-%02d", i))
	}
	if fmt.Sprint(saw) != fmt.Sprint(want) {
		t.Errorf("handler lines on the screen:\n%s\nwant:\n%s\nscreen:\n%s", strings.Join(saw, "\n"), strings.Join(want, "\n"), strings.Join(screen, "\n"))
	}
	if fmt.Sprint(errs) != fmt.Sprint(wantErrs) {
		t.Errorf("sys.eprint lines on the screen:\n%s\nwant:\n%s", strings.Join(errs, "\n"), strings.Join(wantErrs, "\n"))
	}
	if typedAt < 0 || typedAt+1 >= len(screen) || screen[typedAt+1] != "42" {
		t.Errorf("the typed line %q and its value are not on the screen intact:\n%s", prompt+typed, strings.Join(screen, "\n"))
	}
	for _, l := range screen {
		if (strings.Contains(l, "saw") && !strings.HasPrefix(l, "saw ") || strings.Contains(l, "err on-") && !strings.HasPrefix(l, "err ")) && !strings.HasPrefix(l, prompt+"h = k8s.on") {
			t.Errorf("a handler line is broken into another: %q", l)
		}
	}

	// An error in a handler: printed with its backtrace, the REPL goes on.
	tm.send(`def bad(ev):` + "\r")
	at = tm.expect(at, "... ")
	tm.send(`    fail("cannot handle " + ev.object.metadata.name)` + "\r")
	at = tm.expect(at, "... ")
	tm.send("\r")
	tm.send(`b = k8s.on("cm", bad, events="ADDED", selector="bad=yes"); print("registered")` + "\r")
	at = tm.expect(at, "\nregistered\n")
	_, err := env.Clientset.CoreV1().ConfigMaps(env.Namespace).Create(context.Background(), &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "bad-1", Labels: map[string]string{"bad": "yes"}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	at = tm.expect(at, "k8s.on: handler 2 (bad on configmaps) failed on ADDED "+env.Namespace+"/configmap/bad-1:\n")
	at = tm.expect(at, "fail: cannot handle bad-1\nTraceback (most recent call last):\n")
	at = tm.expect(at, ": in bad\n")
	tm.send("h.count, b.errors, b.running\r")
	at = tm.expect(at, fmt.Sprintf("(%d, 1, True)\n", n))

	tm.send("k8s.handlers()\r")
	at = tm.expect(at, "ID    KIND         NAMESPACE")
	at = tm.expect(at, "1     configmaps   "+env.Namespace)
	at = tm.expect(at, "2     configmaps   "+env.Namespace)
	at = tm.expect(at, prompt)
	tm.send("[x.stop() for x in k8s.handlers()]\r")
	at = tm.expect(at, prompt)
	tm.send("k8s.handlers()\r")
	at = tm.expect(at, "No handlers.\n")
	tm.expect(at, prompt)
	if s := tm.screen(); strings.Contains(s, "DATA RACE") {
		t.Errorf("the race detector spoke:\n%s", s)
	}
}

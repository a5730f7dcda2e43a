package builtins

import (
	"context"
	"strings"
	"testing"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"

	"github.com/k8sh/k8sh/lib/sys"
)

// runFakeStar runs src as a script on a k8s.fake cluster, and returns what
// it printed (its handlers' prints included) and what went to stderr.
func runFakeStar(t *testing.T, src string, configure func(*Session)) (string, string, error) {
	t.Helper()
	var out, errOut strings.Builder
	thread := &starlark.Thread{
		Name:  t.Name(),
		Print: func(_ *starlark.Thread, msg string) { out.WriteString(msg + "\n") },
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		},
	}
	starlarktest.SetReporter(thread, t)
	s := &Session{}
	s.Sys.Stderr = &errOut
	if configure != nil {
		configure(s)
	}
	SetSession(thread, s)
	sys.SetContext(thread, context.Background())
	src = "load('assert.star', 'assert')\n" + src
	_, err := starlark.ExecFileOptions(starOptions, thread, t.Name()+".star", src, Globals(s))
	EndSession(thread)
	return out.String(), errOut.String(), err
}

// TestOnDispatch: handlers run in a script while k8s.run waits, one call at
// a time, each event once and in order; events between k8s.on and k8s.run
// wait for it; the events argument filters; k8s.stop() from a handler ends
// k8s.run; an error in a handler is printed with its backtrace and the
// handler goes on.
func TestOnDispatch(t *testing.T) {
	out, errOut, err := runFakeStar(t, `
k8s.fake()
seen = []
deleted = []
def done():
    if len(seen) == 6 and len(deleted) == 2:
        k8s.stop()
def record(ev):
    seen.append((ev.type, ev.object.metadata.name))
    done()
    if ev.object.metadata.name == "boom":
        fail("no boom please")
def on_delete(ev):
    deleted.append(ev.object.metadata.name)
    print("deleted", ev.object.metadata.name)
    done()
h = k8s.on("configmaps", record)
d = k8s.on("cm", on_delete, events="DELETED")
assert.eq(h.running, True)
assert.eq(h.events, ("ADDED", "MODIFIED", "DELETED"))
assert.eq(d.events, ("DELETED",))
assert.eq(h.kind, "configmaps")
for n in ["a", "boom", "last"]:
    k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": n}})
k8s.patch("cm/a", {"data": {"k": "v"}})
k8s.delete("cm/a")
k8s.delete("cm/last")
assert.eq(seen, [])  # not before k8s.run
assert.eq(len(k8s.handlers()), 2)
k8s.run(timeout="20s")
assert.eq(seen, [("ADDED", "a"), ("ADDED", "boom"), ("ADDED", "last"), ("MODIFIED", "a"), ("DELETED", "a"), ("DELETED", "last")])
assert.eq(deleted, ["a", "last"])
assert.eq((h.running, d.running), (False, False))
assert.eq(h.errors, 1)
assert.true("no boom please" in h.last_error)
assert.eq(d.count, 2)
assert.eq(len(k8s.handlers()), 0)
print("after run")
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "deleted a\ndeleted last\nafter run\n"; out != want {
		t.Errorf("printed %q, want %q", out, want)
	}
	for _, want := range []string{
		"k8s.on: handler 1 (record on configmaps) failed on ADDED ",
		"/configmap/boom:\n",
		"fail: no boom please\nTraceback (most recent call last):\n",
		": in record\n",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(errOut, "no boom please"); n != 1 {
		t.Errorf("the error was printed %d times:\n%s", n, errOut)
	}
}

// TestOnRunEnds: k8s.run returns at its timeout, and at once when no
// handler is left; handlers never called are said so at the end of a
// script that never ran them; bad arguments are errors naming k8s.on.
func TestOnRunEnds(t *testing.T) {
	_, errOut, err := runFakeStar(t, `
k8s.fake()
k8s.run()  # no handler: returns at once
h = k8s.on("cm", lambda ev: None)
k8s.run(timeout=0.2)
assert.eq(h.running, False)
h2 = k8s.on("cm", lambda ev: None)
h2.stop()
assert.eq(h2.running, False)
k8s.run()  # none left
assert.fails(lambda: k8s.on("cm", lambda ev: None, events="CREATED"), 'k8s.on: for parameter events: unknown event type "CREATED": want ADDED, MODIFIED or DELETED')
assert.fails(lambda: k8s.on("cm", lambda ev: None, events=[]), "k8s.on: for parameter events: no event type given")
assert.fails(lambda: k8s.on("cm", "f"), 'k8s.on: for parameter fn: got string, want callable')
assert.fails(lambda: k8s.on("cm/x", print), 'k8s.on: "configmaps/x" names one object|k8s.on: "cm/x" names one object')
assert.fails(lambda: k8s.on("nopes", print), "k8s.on: .*nopes")
k8s.on("cm", lambda ev: None)
k8s.on("cm", lambda ev: None)
`, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "k8sh: 2 handlers registered with k8s.on never ran: the program ended without calling k8s.run()\n"; errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
}

// TestOnProtected: a handler's change in a protected context is refused
// without --yes, saying why, even where the main thread may ask (the
// REPL); with --yes it goes through.
func TestOnProtected(t *testing.T) {
	src := `
k8s.fake()
results = []
def label(ev):
    r = catch(k8s.label, ev.object, {"seen": "yes"})
    results.append(r.error)
    k8s.stop()
k8s.on("cm", label, events="ADDED")
k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
k8s.run(timeout="20s")
print(results[0])
`
	asked := 0
	out, _, err := runFakeStar(t, src, func(s *Session) {
		s.Policy = &Policy{Protected: []string{"*"}}
		s.Confirm = func(prompt string) (string, error) {
			asked++
			name, _, _ := strings.Cut(strings.TrimPrefix(prompt, `context "`), `"`)
			return name, nil
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if asked != 1 {
		t.Errorf("asked %d times, want once (the script's create)", asked)
	}
	if !strings.Contains(out, "is protected: refusing to label ConfigMap/a") || !strings.Contains(out, "from a background handler (k8s.on) without --yes (or K8SH_YES=1): a handler cannot ask for confirmation") {
		t.Errorf("the handler's change: %s", out)
	}
	out, _, err = runFakeStar(t, src, func(s *Session) {
		s.Policy = &Policy{Protected: []string{"*"}}
		s.Yes = true
	})
	if err != nil || out != "None\n" {
		t.Errorf("with --yes: %q %v", out, err)
	}
}

package builtins

// Tests of k8s.controller and k8s.cached on a fake cluster (kube/fake):
// no sandbox, so they run with -short, and with -race:
//
//	go test -race ./builtins -run 'TestController|TestCached' -count=1

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.uber.org/goleak"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/sys"
)

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ctlEnv is a session on a fake cluster, its main thread and log.
type ctlEnv struct {
	t       *testing.T
	fake    *kube.Fake
	session *Session
	thread  *starlark.Thread
	log     *syncBuffer
	out     *syncBuffer
	globals starlark.StringDict
}

// configMaps is n ConfigMaps cm-0... in namespace default, labelled app=x.
func configMaps(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: default, labels: {app: x}}\ndata: {k: v}\n", i)
	}
	return b.String()
}

func newCtlEnv(t *testing.T, manifests string) *ctlEnv {
	t.Helper()
	var objs []map[string]any
	for _, doc := range strings.Split(manifests, "\n---\n") {
		doc = strings.TrimPrefix(doc, "---\n")
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, m)
	}
	f, err := kube.NewFake(objs, "fake")
	if err != nil {
		t.Fatal(err)
	}
	e := &ctlEnv{t: t, fake: f, log: &syncBuffer{}, out: &syncBuffer{}}
	e.session = &Session{Cluster: f.Client, Policy: &Policy{}}
	e.thread = &starlark.Thread{Name: "main", Print: func(_ *starlark.Thread, msg string) { fmt.Fprintln(e.out, msg) }}
	SetSession(e.thread, e.session)
	sys.SetContext(e.thread, context.Background())
	Controllers(e.session).SetLog(ControllerLog{W: e.log, Verbose: true})
	t.Cleanup(func() {
		EndSession(e.thread)
		f.Close()
		if t.Failed() {
			t.Logf("controller log:\n%s", e.log.String())
		}
	})
	return e
}

// run runs src as a script's top level (its globals frozen at the end),
// with extra predeclared names.
func (e *ctlEnv) run(src string, extra starlark.StringDict) {
	e.t.Helper()
	g := Globals(e.session)
	maps.Copy(g, extra)
	var err error
	e.globals, err = starlark.ExecFileOptions(starOptions, e.thread, "ctl.star", src, g)
	if err != nil {
		e.t.Fatal(err)
	}
}

// exec runs src on the main thread, as the REPL would, with the globals
// of run.
func (e *ctlEnv) exec(src string) {
	e.t.Helper()
	g := Globals(e.session)
	maps.Copy(g, e.globals)
	if _, err := starlark.ExecFileOptions(starOptions, e.thread, "exec.star", src, g); err != nil {
		e.t.Fatal(err)
	}
}

func (e *ctlEnv) controller() *Controller {
	e.t.Helper()
	l := Controllers(e.session).List()
	if len(l) != 1 {
		e.t.Fatalf("%d controllers registered, want 1", len(l))
	}
	return l[0]
}

func (e *ctlEnv) start() *Controller {
	e.t.Helper()
	c := e.controller()
	if err := c.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	return c
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recorder is Go builtins a reconcile calls to say what it saw.
type recorder struct {
	mu    sync.Mutex
	calls map[string]int // reconciles by key
	nones map[string]int // reconciles with obj None, by key
}

func newRecorder() *recorder { return &recorder{calls: map[string]int{}, nones: map[string]int{}} }

func (r *recorder) builtin() *starlark.Builtin {
	return starlark.NewBuiltin("record", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var obj starlark.Value
		var key string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 2, &obj, &key); err != nil {
			return nil, err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[key]++
		if obj == starlark.None {
			r.nones[key]++
		}
		return starlark.MakeInt(r.calls[key]), nil
	})
}

func (r *recorder) count(key string) (calls, nones int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[key], r.nones[key]
}

// TestControllerParallel: 5 workers reconcile 5 keys at once (a barrier
// that only 5 reconciles in flight together pass), and no key is ever
// reconciled twice at once, while every object is changed again and again.
func TestControllerParallel(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Cleanup(func() { noLeak(t, before) }) // runs last: informers, queue and workers are gone
	e := newCtlEnv(t, configMaps(20))
	rec := newRecorder()
	var (
		mu      sync.Mutex
		waiting int
		open    = make(chan struct{})
	)
	barrier := starlark.NewBuiltin("barrier", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		mu.Lock()
		waiting++
		if waiting == 5 {
			close(open)
		}
		mu.Unlock()
		select {
		case <-open:
			return starlark.None, nil
		case <-time.After(15 * time.Second):
			return nil, fmt.Errorf("barrier: fewer than 5 reconciles at once")
		}
	})
	e.run(`
def reconcile(cm, key):
    barrier()
    record(cm, key)
    if cm != None:
        k8s.cached("cm", cm.metadata.name)   # the cache answers: no request

ctl = k8s.controller("cm", reconcile, workers=5, selector="app=x")
`, starlark.StringDict{"barrier": barrier, "record": rec.builtin()})
	c := e.start()
	eventually(t, "20 reconciles", func() bool { return c.Stats().Reconciles >= 20 })
	for round := range 3 {
		e.exec(fmt.Sprintf(`
for i in range(20):
    k8s.patch("cm", "cm-%%d" %% i, {"data": {"round": "%d"}})
`, round))
	}
	e.exec(`k8s.delete("cm", "cm-3")`)
	// At least once: the informer's store runs ahead of the events it
	// hands out, so a reconcile queued by one of the patches can already
	// find cm-3 gone (seen under load), and the deletion's own reconcile
	// then sees it gone too.
	eventually(t, "cm-3 reconciled as deleted", func() bool { _, n := rec.count("default/cm-3"); return n >= 1 })
	st := c.Stats()
	if st.MaxParallel != 5 {
		t.Errorf("at most %d reconciles in flight, want 5", st.MaxParallel)
	}
	if st.Overlaps != 0 {
		t.Errorf("%d reconciles of a key began while another of it ran", st.Overlaps)
	}
	if st.Errors != 0 {
		t.Errorf("%d reconciles failed", st.Errors)
	}
	c.Stop()
	<-c.Done()
	if n := overlapsInLog(t, e.log.String()); n != 0 {
		t.Errorf("the -v log shows %d overlapping reconciles", n)
	}
}

// overlapsInLog reads the -v lines "reconcile KEY (worker N)" and
// "reconciled KEY ..." / "reconcile KEY failed ..." in order, and counts
// the reconciles of a key that began before the last one of it ended.
func overlapsInLog(t *testing.T, log string) int {
	open := map[string]bool{}
	n := 0
	for _, line := range strings.Split(log, "\n") {
		_, rest, ok := strings.Cut(line, ": controller ")
		if !ok {
			continue
		}
		_, msg, _ := strings.Cut(rest, ": ")
		f := strings.Fields(msg)
		if len(f) < 2 {
			continue
		}
		switch {
		case f[0] == "reconcile" && len(f) >= 3 && f[2] == "(worker":
			if open[f[1]] {
				n++
			}
			open[f[1]] = true
		case f[0] == "reconciled", f[0] == "reconcile" && len(f) >= 3 && (f[2] == "failed" || f[2] == "cancelled"):
			open[f[1]] = false
		}
	}
	return n
}

// TestControllerCoalesces: the changes made while a key is reconciled make
// one more reconcile of it, not one each.
func TestControllerCoalesces(t *testing.T) {
	e := newCtlEnv(t, configMaps(1))
	rec := newRecorder()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := starlark.NewBuiltin("hold", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(entered)
			<-release
		}
		return starlark.None, nil
	})
	e.run(`
def reconcile(cm, key):
    record(cm, key)
    hold()
k8s.controller("configmaps", reconcile, workers=3)
`, starlark.StringDict{"hold": hold, "record": rec.builtin()})
	c := e.start()
	<-entered
	e.exec(`
for i in range(10):
    k8s.patch("cm", "cm-0", {"data": {"i": str(i)}})
`)
	eventually(t, "the cache to hold the last change", func() bool {
		u, ok := c.primary.Get("default/cm-0")
		return ok && u.Object["data"].(map[string]any)["i"] == "9"
	})
	close(release)
	eventually(t, "a second reconcile", func() bool { n, _ := rec.count("default/cm-0"); return n >= 2 })
	time.Sleep(200 * time.Millisecond) // a third would come now
	if n, _ := rec.count("default/cm-0"); n != 2 {
		t.Errorf("cm-0 reconciled %d times, want 2 (10 changes during the first make one more)", n)
	}
	if st := c.Stats(); st.Overlaps != 0 {
		t.Errorf("%d overlapping reconciles", st.Overlaps)
	}
}

// TestControllerOwns: the objects a reconcile makes, owned through
// ownerReferences, bring their owner back to reconcile when they change or
// go: deleted, it comes back; changed, it is put back.
func TestControllerOwns(t *testing.T) {
	e := newCtlEnv(t, configMaps(3))
	e.run(`
def reconcile(cm, key):
    if cm == None:
        return
    want = {"note": "copy of " + key}
    s = k8s.cached("secret", cm.metadata.name)
    if s != None and s.get("stringData", s.get("data")) != None and s.metadata.annotations.get("note") == want["note"]:
        return
    k8s.apply({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": cm.metadata.name, "namespace": cm.metadata.namespace, "annotations": want,
                     "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": cm.metadata.name,
                                          "uid": cm.metadata.uid, "controller": True}]},
        "stringData": {"k": "v"},
    }, force=True, field_manager="test-controller")

k8s.controller("configmaps", reconcile, owns=["secrets"], workers=2)
`, nil)
	c := e.start()
	note := func(name string) string {
		u, ok := c.owned[0].Get("default/" + name)
		if !ok {
			return ""
		}
		return u.GetAnnotations()["note"]
	}
	for i := range 3 {
		eventually(t, "secret cm-"+fmt.Sprint(i), func() bool { return note(fmt.Sprintf("cm-%d", i)) == fmt.Sprintf("copy of default/cm-%d", i) })
	}
	e.exec(`k8s.delete("secret", "cm-1")`)
	eventually(t, "the deleted secret back", func() bool { return note("cm-1") == "copy of default/cm-1" })
	e.exec(`k8s.patch("secret", "cm-2", {"metadata": {"annotations": {"note": "changed"}}})`)
	// The server's object, not the cache: the cache may not have seen the
	// patch yet, and would still show the note from before it.
	eventually(t, "the changed secret put back", func() bool {
		u, err := e.fake.Client.Get(context.Background(), "secret", "cm-2", "default")
		return err == nil && u.GetAnnotations()["note"] == "copy of default/cm-2"
	})
	e.exec(`
s = k8s.get("secret", "cm-2")
assert.eq(s.metadata.annotations["note"], "copy of default/cm-2")
`)
}

// TestControllerBackoff: a failing reconcile is retried with growing
// waits, each failure printed with its attempt and wait (and, with -v,
// every reconcile); True asks for a retry, a duration for a later call.
func TestControllerBackoff(t *testing.T) {
	old := kube.RetryBase
	kube.RetryBase = 40 * time.Millisecond
	t.Cleanup(func() { kube.RetryBase = old })
	e := newCtlEnv(t, configMaps(3))
	rec := newRecorder()
	e.run(`
def reconcile(cm, key):
    n = record(cm, key)
    if key == "default/cm-0" and n <= 3:
        fail("boom %d" % n)
    if key == "default/cm-1" and n == 1:
        return True
    if key == "default/cm-2" and n == 1:
        return "50ms"
k8s.controller("configmaps", reconcile)
`, starlark.StringDict{"record": rec.builtin()})
	c := e.start()
	for key, want := range map[string]int{"default/cm-0": 4, "default/cm-1": 2, "default/cm-2": 2} {
		eventually(t, key+" reconciled", func() bool { n, _ := rec.count(key); return n >= want })
	}
	log := e.log.String()
	for _, want := range []string{
		"k8sh: controller configmaps: reconcile default/cm-0 failed (attempt 1; retrying in ",
		"k8sh: controller configmaps: reconcile default/cm-0 failed (attempt 2; retrying in ",
		"k8sh: controller configmaps: reconcile default/cm-0 failed (attempt 3; retrying in ",
		"failed (attempt 3; retrying in ", "): fail: boom 3\n",
		"asked to retry (attempt 1; retrying in ",
		"; again in 50ms (asked)",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("the log has no %q:\n%s", want, log)
		}
	}
	if st := c.Stats(); st.Errors != 3 {
		t.Errorf("%d errors, want 3", st.Errors)
	}
}

// TestControllerFreezes: reconciles run on threads of their own, so what
// they reach is frozen: a change to a global fails, as a failed reconcile.
func TestControllerFreezes(t *testing.T) {
	e := newCtlEnv(t, configMaps(1))
	e.run(`
seen = {}
def reconcile(cm, key):
    seen[key] = True
k8s.controller("configmaps", reconcile)
`, nil)
	c := e.start()
	eventually(t, "a failed reconcile", func() bool { return c.Stats().Errors > 0 })
	if log := e.log.String(); !strings.Contains(log, "cannot insert into frozen hash table") {
		t.Errorf("log:\n%s", log)
	}
}

// TestControllerProtected: a protected context refuses a reconcile's
// change without asking, unless the session has --yes.
func TestControllerProtected(t *testing.T) {
	for _, yes := range []bool{false, true} {
		t.Run(fmt.Sprint("yes=", yes), func(t *testing.T) {
			e := newCtlEnv(t, configMaps(1))
			e.session.Policy = &Policy{Protected: []string{"fake"}}
			e.session.Yes = yes
			asked := false
			e.session.Confirm = func(string) (string, error) { asked = true; return "fake", nil }
			e.run(`
def reconcile(cm, key):
    if cm != None:
        k8s.patch(cm, {"data": {"done": "yes"}})
k8s.controller("configmaps", reconcile)
`, nil)
			c := e.start()
			if yes {
				eventually(t, "the change", func() bool {
					u, _ := c.primary.Get("default/cm-0")
					return u != nil && u.Object["data"].(map[string]any)["done"] == "yes"
				})
			} else {
				eventually(t, "a refusal", func() bool { return c.Stats().Errors > 0 })
				if log := e.log.String(); !strings.Contains(log, `context "fake" is protected: refusing to`) {
					t.Errorf("log:\n%s", log)
				}
			}
			if asked {
				t.Error("a reconcile asked for confirmation")
			}
		})
	}
}

// TestControllerArgs: bad arguments fail naming k8s.controller.
func TestControllerArgs(t *testing.T) {
	e := newCtlEnv(t, "")
	for _, tc := range []struct{ src, want string }{
		{`k8s.controller("nosuchkind", lambda o, k: None)`, `k8s.controller: .*nosuchkind`},
		{`k8s.controller("cm", lambda o: None)`, `k8s.controller: reconcile lambda takes 1 positional parameters; it is called as reconcile\(obj, key\)`},
		{`k8s.controller("cm", lambda o, k: None, workers=0)`, `k8s.controller: workers=0: want at least 1`},
		{`k8s.controller("cm", lambda o, k: None, owns=["nosuch"])`, `k8s.controller: owns: .*nosuch`},
		{`k8s.controller("cm", lambda o, k: None, selector="a in (")`, `k8s.controller: bad selector`},
		{`k8s.controller("cm/x", lambda o, k: None)`, `k8s.controller: a controller watches a kind, not one object`},
		{`k8s.controller("cm", lambda o, k: None, resync="soon")`, `k8s.controller: for parameter "resync": invalid duration`},
		{`k8s.cached("cm", "x", selector="a=b")`, `k8s.cached: all_namespaces and selector select a list`},
	} {
		e.exec(fmt.Sprintf("assert.fails(lambda: %s, %q)", tc.src, tc.want))
	}
}

// TestCached: k8s.cached answers from the informer cache, and sees
// changes.
func TestCached(t *testing.T) {
	e := newCtlEnv(t, configMaps(3))
	e.exec(`
assert.eq(dict(k8s.cached("cm", "cm-1").data), {"k": "v"})
assert.eq(k8s.cached("cm", "nope"), None)
assert.eq([c.metadata.name for c in k8s.cached("cm", selector={"app": "x"})], ["cm-0", "cm-1", "cm-2"])
assert.eq("managedFields" in k8s.cached("cm", "cm-1").metadata, False)
c = k8s.cached("cm", "cm-1")
c.data["k"] = "changed"          # a copy: the cache keeps its own
assert.eq(dict(k8s.cached("cm", "cm-1").data), {"k": "v"})
k8s.patch("cm", "cm-1", {"data": {"k": "new"}})
`)
	eventually(t, "the cache to see the change", func() bool {
		v, err := starlark.EvalOptions(starOptions, e.thread, "x", `k8s.cached("cm", "cm-1").data["k"]`, Globals(e.session))
		return err == nil && v == starlark.String("new")
	})
}

// TestControllerStopLetsReconcilesFinish: Stop takes no new work, and the
// reconcile in flight finishes (it is not cancelled) before Done.
func TestControllerStopLetsReconcilesFinish(t *testing.T) {
	e := newCtlEnv(t, configMaps(3))
	rec := newRecorder()
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := starlark.NewBuiltin("hold", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		first := false
		once.Do(func() { first = true })
		if first {
			close(entered)
			<-release
		}
		return starlark.None, nil
	})
	e.run(`
def reconcile(cm, key):
    hold()
    k8s.get("cm", "cm-0")      # a request after the stop: the session still works
    record(cm, key)
k8s.controller("configmaps", reconcile)
`, starlark.StringDict{"hold": hold, "record": rec.builtin()})
	c := e.start()
	<-entered
	c.Stop()
	select {
	case <-c.Done():
		t.Fatal("Done before the reconcile in flight finished")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	select {
	case <-c.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("not done after the reconcile finished")
	}
	st := c.Stats()
	if st.Reconciles != 1 || st.Errors != 0 {
		t.Errorf("%d reconciles, %d failed; want 1 that succeeded (and no other key after Stop)", st.Reconciles, st.Errors)
	}
}

// TestControllerUnderRun: a script's controllers run while k8s.run waits,
// beside its handlers, and a reconcile's k8s.stop() ends k8s.run, which
// lets the reconcile finish and leaves no goroutine behind.
func TestControllerUnderRun(t *testing.T) {
	e := newCtlEnv(t, configMaps(3))
	var mu sync.Mutex
	keys := map[string]bool{}
	seen := starlark.NewBuiltin("seen", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var key string
		if err := starlark.UnpackPositionalArgs(b.Name(), args, kwargs, 1, &key); err != nil {
			return nil, err
		}
		mu.Lock()
		defer mu.Unlock()
		keys[key] = true
		return starlark.MakeInt(len(keys)), nil // the keys reconciled so far
	})
	e.run(`
def reconcile(obj, key):
    print("reconcile", key)
    if seen(key) == 3:
        k8s.stop()

c = k8s.controller("configmaps", reconcile, namespace="default", workers=2)
k8s.run(timeout="30s")
print("ran", c.count >= 3, c.running)
`, starlark.StringDict{"seen": seen})
	out := e.out.String()
	for _, want := range []string{"reconcile default/cm-0\n", "reconcile default/cm-1\n", "reconcile default/cm-2\n", "ran True False\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the script printed:\n%s\nwithout %q", out, want)
		}
	}
	if l := Controllers(e.session).List(); len(l) != 1 || !Controllers(e.session).Ran() {
		t.Errorf("controllers after k8s.run: %v, ran %v", l, Controllers(e.session).Ran())
	}
}

package repl

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

type fakeSource struct {
	namesAsked [][2]string
}

func (f *fakeSource) Kinds() []string {
	return []string{"deploy", "deployment", "deployments", "deployments.apps", "pods", "po"}
}

func (f *fakeSource) Names(kind, ns string) []string {
	f.namesAsked = append(f.namesAsked, [2]string{kind, ns})
	return []string{"web-1", "web-2", "db-1"}
}

func (f *fakeSource) Namespaces() []string { return []string{"default", "kube-system", "kube-public"} }
func (f *fakeSource) Contexts() []string   { return []string{"prod", "sandbox", "sandbox-viewer"} }
func (f *fakeSource) Params(fn string) []string {
	if fn == "k8s.get" {
		return []string{"kind", "name", "namespace", "selector", "fields"}
	}
	return nil
}

func TestComplete(t *testing.T) {
	called := false
	boom := starlark.NewBuiltin("boom", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		called = true
		return starlark.None, nil
	})
	meta := starlark.NewDict(1)
	meta.SetKey(starlark.String("labels"), starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"app": starlark.String("web")}))
	pod := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"metadata": starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"name": starlark.String("web"), "namespace": starlark.String("default")}),
		"spec":     starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"containers": starlark.NewList(nil)}),
		"m":        meta,
	})
	k8s := &starlarkstruct.Module{Name: "k8s", Members: starlark.StringDict{"get": boom, "list": boom, "logs": boom}}
	src := &fakeSource{}
	c := &Completer{Globals: starlark.StringDict{"k8s": k8s, "pod": pod, "pods": starlark.NewList(nil), "boom": boom}, Source: src}
	for _, tc := range []struct {
		before string
		want   []string
		n      int
	}{
		{"po", []string{"pod", "pods"}, 2},
		{"k8s.g", []string{"get"}, 1},
		{"k8s.", []string{"get", "list", "logs"}, 0},
		{"x = pod.metadata.n", []string{"name", "namespace"}, 1},
		{"pod.spec.", []string{"containers"}, 0},
		{`pod.m["labels"].a`, []string{"app"}, 1},
		{"boom().x", nil, 1},
		{`k8s.get("dep`, []string{`deploy"`, `deployment"`, `deployments"`, `deployments.apps"`}, 3},
		{`k8s.get('p`, []string{`po'`, `pods'`}, 1},
		{`k8s.rollout.undo("dep`, []string{`deploy"`, `deployment"`, `deployments"`, `deployments.apps"`}, 3},
		{`k8s.rollout.status("deploy", "web`, []string{`web-1"`, `web-2"`}, 3},
		{`k8s.drain("web`, []string{`web-1"`, `web-2"`}, 3},
		{`k8s.get("pods", "web`, []string{`web-1"`, `web-2"`}, 3},
		{`k8s.get("pods", "web-1", namespace="kube-`, []string{`kube-public"`, `kube-system"`}, 5},
		{`ctx.namespace("kube-`, []string{`kube-public"`, `kube-system"`}, 5},
		{`ctx.use("sa`, []string{`sandbox"`, `sandbox-viewer"`}, 2},
		{`k8s.list("pods", context="pr`, []string{`prod"`}, 2},
		{`k8s.list("pods", contexts=["sandbox", "pr`, []string{`prod"`}, 2},
		{`k8s.list("pods", contexts="pr`, []string{`prod"`}, 2},
		{`ctx.each(["sa`, []string{`sandbox"`, `sandbox-viewer"`}, 2},
		{`k8s.get("pods", sel`, []string{"selector="}, 3},
		{`k8s.get("pods", `, []string{"boom", "fields=", "kind=", "name=", "namespace=", "selector="}, 0},
		{`print("dep`, nil, 3},
		{`# k8s.get("dep`, nil, 3},
	} {
		got, n := c.Complete(tc.before)
		if tc.before == `k8s.get("pods", ` {
			got = filter(got, "") // every global too: keep the check to the ones listed
			var keep []string
			for _, g := range got {
				for _, w := range tc.want {
					if g == w {
						keep = append(keep, g)
					}
				}
			}
			got = keep
		}
		if diff := cmp.Diff(tc.want, got); diff != "" || n != tc.n {
			t.Errorf("Complete(%q): n = %d, want %d; candidates (-want +got):\n%s", tc.before, n, tc.n, diff)
		}
	}
	if called {
		t.Error("completion called a function")
	}
	// The namespace already typed in the call is the one asked for names.
	src.namesAsked = nil
	c.Complete(`k8s.get("pods", namespace="kube-system", name="`)
	c.Complete(`k8s.logs("`)
	c.Complete(`k8s.get("pods", "`)
	c.Complete(`k8s.get("cm", "x", namespace="ns1")`)
	c.Complete(`k8s.shell("`)
	c.Complete(`k8s.exec(  '`)
	c.Complete(`k8s.cordon("`)
	want := [][2]string{{"pods", "kube-system"}, {"pods", ""}, {"pods", ""}, {"pods", ""}, {"pods", ""}, {"nodes", ""}}
	if diff := cmp.Diff(want, src.namesAsked); diff != "" {
		t.Errorf("names asked (-want +got):\n%s", diff)
	}
}

func TestDo(t *testing.T) {
	c := &Completer{Globals: starlark.StringDict{"k8s": &starlarkstruct.Module{Name: "k8s", Members: starlark.StringDict{"get": starlark.None}}}}
	line := []rune("x = k8s.g")
	got, n := c.Do(line, len(line))
	if n != 1 || len(got) != 1 || string(got[0]) != "et" {
		t.Errorf("Do: %q %d", got, n)
	}
}

// chanTurn is a Turn made of a channel that holds the token when free.
type chanTurn chan struct{}

func (t chanTurn) Lock()   { <-t }
func (t chanTurn) Unlock() { t <- struct{}{} }
func (t chanTurn) TryLock(d time.Duration) bool {
	select {
	case <-t:
		return true
	case <-time.After(d):
		return false
	}
}

// TestCompleteTakesTheTurn: completion reads values only with the turn
// (background work may be changing them), and gives it back; while the
// turn is held elsewhere it completes no value, and does not wait long.
func TestCompleteTakesTheTurn(t *testing.T) {
	pod := starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{"spec": starlark.None})
	turn := make(chanTurn, 1)
	c := &Completer{Globals: starlark.StringDict{"pod": pod}, Turn: turn}
	turn.Unlock() // free
	if got, _ := c.Complete("pod.s"); !cmp.Equal(got, []string{"spec"}) {
		t.Errorf("with the turn free: %v", got)
	}
	if len(turn) != 1 {
		t.Fatal("completion kept the turn")
	}
	turn.Lock() // held by a statement or a handler
	start := time.Now()
	if got, _ := c.Complete("pod.s"); got != nil {
		t.Errorf("with the turn held: %v", got)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("completion waited %s for the turn", d)
	}
	if got, _ := c.Complete("po"); !cmp.Equal(got, []string{"pod"}) {
		t.Errorf("names complete without the turn: %v", got)
	}
}

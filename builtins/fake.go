package builtins

import (
	"fmt"
	"io/fs"
	"sync"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
)

func init() {
	K8s.Members["fake"] = doc.Builtin("k8s.fake", fakeDoc, fakeBuiltin)
	K8s.Members["fake_changes"] = doc.Builtin("k8s.fake_changes", fakeChangesDoc, fakeChangesBuiltin)
	K8s.Members["replay"] = doc.Builtin("k8s.replay", replayDoc, replayBuiltin)
}

const replayDoc = `k8s.replay(path)

Switches the session to the cassette at path (written by k8sh --record,
relative to the script): every request of the k8s builtins from then on is
answered from it, as the cluster answered when it was recorded, and none is
sent, for tests of a script's behaviour on a real cluster's answers. The
session takes the context and namespace the cassette was recorded in, and
time.now() gives the times the recorded run read, in order (then the
clock's). A
request the cassette does not hold fails, naming it, the request the
cassette has in its place and how their bodies differ. Matching leaves out
what varies between runs: resourceVersions and times. docs/testing.md says
more.
  k8s.replay("testdata/cleanup.cassette.yaml")
  r = run_script("namespace-cleanup.star", ["--older-than", "1h"])`

func replayBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var path string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "path", &path); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if err := UseReplay(s, path); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	SetSession(thread, s) // time.now gives the recorded times
	return starlark.None, nil
}

// fakeContext is the kubeconfig context name of a fake cluster.
const fakeContext = "fake"

const fakeDoc = `k8s.fake(objects=None)

Switches the session to a new fake cluster, in memory, holding objects (a
k8s.object, a dict, YAML text, a path to a file or directory of manifests,
or a list of them, as k8s.apply reads objs; CRDs among them define their
kinds), for tests that must not touch a real cluster (k8sh test). Every k8s
builtin then uses it, as the kubeconfig context "fake" in namespace
"default"; other contexts are out of reach until the session ends (context=
and ctx.use name only "fake").

The fake is kube-apiserver 1.37's API without its controllers: the built-in
kinds and those of its CRDs; get, list and watch with label and field
selectors; create (generateName), update with resourceVersion
preconditions, merge, JSON and strategic merge patches, server-side apply
with managedFields and conflicts (the apiserver's own field manager),
status and scale subresources, delete with finalizers, dry runs; objects
keep resourceVersion, uid, creationTimestamp and generation as the
apiserver keeps them. It does not run controllers (no Pods for a
Deployment, no garbage collection: deleting a namespace deletes its
objects at once), admission, validation (but for immutable ConfigMaps
and Secrets and a Secret's type) or defaulting, and serves no
exec, logs, port-forward or Tables (k8s.print shows the columns of
objects it can work out). docs/testing.md says more.
  k8s.fake("""
  apiVersion: v1
  kind: ConfigMap
  metadata: {name: app, namespace: default}
  data: {mode: dev}
  """)
  k8s.patch("cm/app", {"data": {"mode": "prod"}})
  assert.eq(k8s.get("cm", "app").data.mode, "prod")`

const fakeChangesDoc = `k8s.fake_changes()

Returns what the session's fake cluster (k8s.fake) was asked to change
since it was made, in order: a list of struct(verb, kind, namespace, name,
before, after), verb one of "create", "update", "patch", "apply" and
"delete", before None for a creation and after None for an object gone
(a delete held by finalizers has both). Changes that a dry run asked for
are not in it.
  assert.eq([(c.verb, c.name) for c in k8s.fake_changes()], [("delete", "old-job")])`

// stand-ins are the fake clusters and replays a session switched to: the
// last fake, for k8s.fake_changes, and what to close at its end
// (EndSession).
var standIns = struct {
	sync.Mutex
	fake   map[*Session]*kube.Fake
	closes map[*Session][]func()
}{fake: map[*Session]*kube.Fake{}, closes: map[*Session][]func(){}}

// useStandIn switches s to client (and clients, its kubeconfig's contexts)
// for the rest of the session; closeFn is called when the session ends.
func useStandIn(s *Session, client *kube.Client, clients *kube.Clients, closeFn func()) {
	standIns.Lock()
	standIns.closes[s] = append(standIns.closes[s], closeFn)
	standIns.Unlock()
	s.Cluster = client
	s.Contexts = clients
	s.ForContext = func(name string) (Cluster, error) { return clients.For(name) }
}

func fakeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var objects starlark.Value = starlark.None
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "objects?", &objects); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	var objs []map[string]any
	if objects != starlark.None {
		var a objectsArg
		if err := a.unpack(thread, b, objects); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		for _, u := range a.objs {
			objs = append(objs, u.Object)
		}
	}
	f, err := kube.NewFake(objs, fakeContext)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	useStandIn(s, f.Client, f.Clients, f.Close)
	standIns.Lock()
	standIns.fake[s] = f
	standIns.Unlock()
	return starlark.None, nil
}

// currentFake is the last fake cluster the session switched to, if any.
func currentFake(s *Session) *kube.Fake {
	standIns.Lock()
	defer standIns.Unlock()
	return standIns.fake[s]
}

func fakeChangesBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	f := currentFake(s)
	if f == nil {
		return nil, fmt.Errorf("%s: this session has no fake cluster (k8s.fake makes one)", b.Name())
	}
	var out []starlark.Value
	for _, c := range f.Server.Changes() {
		before, after := starlark.Value(starlark.None), starlark.Value(starlark.None)
		if c.Before != nil {
			before = NewObject(c.Before.Object)
		}
		if c.After != nil {
			after = NewObject(c.After.Object)
		}
		out = append(out, starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
			"verb": starlark.String(c.Verb), "kind": starlark.String(c.Kind),
			"namespace": starlark.String(c.Namespace), "name": starlark.String(c.Name),
			"before": before, "after": after,
		}))
	}
	return starlark.NewList(out), nil
}

// EndSession ends what thread's session keeps going: its background work
// (k8s.on's handlers), its port-forwards, and the temporary files of its
// fake clusters and replays. A script, a test and the REPL call it when
// they end.
func EndSession(thread *starlark.Thread) {
	StopBackground(thread)
	StopForwards(thread)
	s, _ := thread.Local(sessionKey).(*Session)
	EndControllers(s) // controller.go
	standIns.Lock()
	closes := standIns.closes[s]
	delete(standIns.closes, s)
	delete(standIns.fake, s)
	standIns.Unlock()
	for _, c := range closes {
		c()
	}
}

// UseReplay switches s to the cassette at path (k8sh --replay,
// k8s.replay), relative to the session's file directory and confined to
// it with --sandbox: every request is answered from it, none is sent.
func UseReplay(s *Session, path string) error {
	fsys, name, _, done, err := manifestFS(s, path)
	if err != nil {
		return err
	}
	data, err := fs.ReadFile(fsys, name)
	done()
	if err != nil {
		return pathError(path, err)
	}
	c, err := kube.ParseCassette(data, path)
	if err != nil {
		return err
	}
	client, clients, closeFn, err := kube.NewReplay(c)
	if err != nil {
		return err
	}
	useStandIn(s, client, clients, closeFn)
	s.Now = c.Clocked()
	return nil
}

package builtins

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarktest"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
)

// watchEnv gives a Starlark test of watches builtins that change the
// sandbox from Go, now or after a delay: cm_set(name, v, after=0),
// cm_delete(name, after=0), pod_create(name, labels={}, ready=True,
// after=0), pod_delete(name, after=0); and elapsed(), the seconds since the
// program started.
type watchEnv struct {
	t   *testing.T
	env *kubetest.Env
	wg  sync.WaitGroup // changes made later
}

func (w *watchEnv) later(after float64, fn func() error) {
	run := func() {
		if err := fn(); err != nil {
			w.t.Errorf("change from the test: %v", err)
		}
	}
	if after <= 0 {
		run()
		return
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		time.Sleep(time.Duration(after * float64(time.Second)))
		run()
	}()
}

func (w *watchEnv) cmSet(name, v string) error {
	ctx := context.Background()
	cms := w.env.Clientset.CoreV1().ConfigMaps(w.env.Namespace)
	cm, err := cms.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cms.Create(ctx, &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"w": "1"}},
			Data:       map[string]string{"v": v},
		}, metav1.CreateOptions{})
		return err
	}
	if err != nil {
		return err
	}
	cm.Data = map[string]string{"v": v}
	_, err = cms.Update(ctx, cm, metav1.UpdateOptions{})
	return err
}

func (w *watchEnv) globals() starlark.StringDict {
	start := time.Now()
	g := Globals(nil)
	g["cm_set"] = starlark.NewBuiltin("cm_set", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name, v string
		var after float64
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "v", &v, "after?", &after); err != nil {
			return nil, err
		}
		w.later(after, func() error { return w.cmSet(name, v) })
		return starlark.None, nil
	})
	g["cm_delete"] = starlark.NewBuiltin("cm_delete", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var after float64
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "after?", &after); err != nil {
			return nil, err
		}
		w.later(after, func() error {
			return w.env.Clientset.CoreV1().ConfigMaps(w.env.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{})
		})
		return starlark.None, nil
	})
	g["pod_create"] = starlark.NewBuiltin("pod_create", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var labels *starlark.Dict
		var after float64
		schedulable := true
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "labels?", &labels, "schedulable?", &schedulable, "after?", &after); err != nil {
			return nil, err
		}
		l := map[string]string{}
		if labels != nil {
			for _, kv := range labels.Items() {
				k, _ := starlark.AsString(kv[0])
				v, _ := starlark.AsString(kv[1])
				l[k] = v
			}
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
		}
		if !schedulable {
			pod.Spec.NodeSelector = map[string]string{"no-such-label": "anywhere"}
		}
		w.later(after, func() error {
			_, err := w.env.Clientset.CoreV1().Pods(w.env.Namespace).Create(context.Background(), pod, metav1.CreateOptions{})
			return err
		})
		return starlark.None, nil
	})
	g["pod_delete"] = starlark.NewBuiltin("pod_delete", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		var after float64
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "after?", &after); err != nil {
			return nil, err
		}
		w.later(after, func() error {
			zero := int64(0)
			return w.env.Clientset.CoreV1().Pods(w.env.Namespace).Delete(context.Background(), name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
		})
		return starlark.None, nil
	})
	g["deploy_create"] = starlark.NewBuiltin("deploy_create", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var name string
		if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name); err != nil {
			return nil, err
		}
		one := int32(1)
		labels := map[string]string{"deploy": name}
		_, err := w.env.Clientset.AppsV1().Deployments(w.env.Namespace).Create(context.Background(), &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: appsv1.DeploymentSpec{
				Replicas: &one,
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "main", Image: "busybox"}}},
				},
			},
		}, metav1.CreateOptions{})
		return starlark.None, err
	})
	g["elapsed"] = starlark.NewBuiltin("elapsed", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		return starlark.Float(time.Since(start).Seconds()), nil
	})
	return g
}

// run runs src against cluster c in ctx and returns its error.
func (w *watchEnv) run(ctx context.Context, c Cluster, src string) error {
	thread := &starlark.Thread{
		Name: w.t.Name(),
		Load: func(_ *starlark.Thread, module string) (starlark.StringDict, error) {
			return starlarktest.LoadAssertModule()
		},
		Print: func(_ *starlark.Thread, msg string) { w.t.Log(msg) },
	}
	starlarktest.SetReporter(thread, w.t)
	SetSession(thread, &Session{Cluster: c})
	sys.SetContext(thread, ctx)
	stop := context.AfterFunc(ctx, func() { thread.Cancel("interrupted") }) // as main does
	defer stop()
	src = "load('assert.star', 'assert')\nns = " + starlark.String(w.env.Namespace).String() + "\n" + src
	_, err := starlark.ExecFileOptions(starOptions, thread, w.t.Name()+".star", src, w.globals())
	w.wg.Wait()
	return err
}

func (w *watchEnv) mustRun(c Cluster, src string) {
	w.t.Helper()
	if err := w.run(context.Background(), c, src); err != nil {
		if ee, ok := err.(*starlark.EvalError); ok {
			w.t.Fatal(ee.Backtrace())
		}
		w.t.Fatal(err)
	}
}

func TestWatchE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	w := &watchEnv{t: t, env: env}
	w.mustRun(c, `
cm_set("a", "1")
cm_set("b", "1")

# initial=True: the current state as ADDED, then the changes
evs = []
for ev in k8s.watch("cm", selector="w=1"):
    evs.append((ev.type, ev.object.metadata.name, ev.object.data.v))
    if len(evs) == 2:
        cm_set("a", "2")
        cm_delete("b")
        cm_set("c", "1")
    if len(evs) == 5:
        break
assert.eq(sorted(evs[:2]), [("ADDED", "a", "1"), ("ADDED", "b", "1")])
assert.eq(evs[2:], [("MODIFIED", "a", "2"), ("DELETED", "b", "1"), ("ADDED", "c", "1")])

# initial=False: only what changes after the call
w = k8s.watch("configmaps", selector={"w": "1"}, initial=False)
cm_set("c", "2")
for ev in w:
    assert.eq((ev.type, ev.object.metadata.name, ev.object.data.v), ("MODIFIED", "c", "2"))
    break

# a name; until ends the loop after yielding its event
cm_set("a", "3", after=0.3)
cm_set("a", "4", after=0.6)
evs = [(ev.type, ev.object.data.v) for ev in k8s.watch("cm", "a", until=lambda ev: ev.object.data.v == "4")]
assert.eq(evs, [("ADDED", "2"), ("MODIFIED", "3"), ("MODIFIED", "4")])
assert.eq([ev.object.data.v for ev in k8s.watch("cm/a", until=lambda ev: True)], ["4"])

# timeout, as a duration or seconds
t0 = elapsed()
assert.eq(list(k8s.watch("cm", selector="w=1", initial=False, timeout="300ms")), [])
t1 = elapsed()
assert.true(t1 - t0 >= 0.29 and t1 - t0 < 2, "took %s" % (t1 - t0))
assert.eq(len(list(k8s.watch("cm", selector="w=1", timeout=0.2))), 2)
assert.eq(sorted([ev.object.metadata.name for ev in k8s.watch("cm", all_namespaces=True, selector="w=1", timeout=0.3)
                  if ev.object.metadata.namespace == ns]), ["a", "c"])
assert.eq([ev.object.metadata.name for ev in k8s.watch("cm", fields="metadata.name=c", timeout=0.2)], ["c"])

# errors surface from the call
assert.fails(lambda: k8s.watch("nopes"), "k8s.watch: the server doesn't have a resource type")
assert.fails(lambda: k8s.watch("cm", timeout="soon"), 'invalid duration "soon"')
`)
	// A failure in the loop cannot be an error of the call: it stops the
	// program.
	err := w.run(context.Background(), c, `list(k8s.watch("cm", "a", until=lambda ev: 1 / 0))`)
	if err == nil || !strings.Contains(err.Error(), "k8s.watch: until: floating-point division by zero") {
		t.Errorf("until failing: got %v", err)
	}
}

func TestWatchForbiddenE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	viewer := e2eClient(t, env, "sandbox-viewer")
	w := &watchEnv{t: t, env: env}
	w.mustRun(viewer, `
assert.fails(lambda: k8s.watch("secrets"), 'k8s.watch: secrets is forbidden: User "viewer" cannot list')
`)
}

// settledGoroutines waits a little for goroutines to end and counts them.
func settledGoroutines(max int) int {
	n := runtime.NumGoroutine()
	for i := 0; i < 50 && n > max; i++ {
		time.Sleep(20 * time.Millisecond)
		n = runtime.NumGoroutine()
	}
	return n
}

func TestWatchCancelE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	w := &watchEnv{t: t, env: env}
	// Warm the client (discovery, connection) so that what it keeps for
	// itself is not counted.
	w.mustRun(c, `cm_set("x", "1")
list(k8s.watch("cm", selector="w=1", timeout=0.1))`)
	before := runtime.NumGoroutine()

	// break, and a loop stopped by until, leave nothing behind
	w.mustRun(c, `
for i in range(5):
    for ev in k8s.watch("cm", selector="w=1"):
        break
    for ev in k8s.watch("cm", selector="w=1", until=lambda ev: True):
        pass
k8s.watch("cm", selector="w=1")   # never iterated: holds nothing
`)
	if after := settledGoroutines(before + 2); after > before+2 {
		t.Errorf("goroutines: %d before, %d after watches that ended by break", before, after)
	}

	// Cancelling the thread's context (Ctrl-C) ends a watch at once.
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		errc <- w.run(ctx, c, `
for ev in k8s.watch("cm", selector="w=1", initial=False):
    pass
`)
	}()
	time.Sleep(500 * time.Millisecond)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-errc:
		if d := time.Since(cancelled); d > 100*time.Millisecond {
			t.Errorf("the watch ended %v after Ctrl-C, want < 100ms", d)
		}
		if err == nil || !strings.Contains(err.Error(), "interrupted") {
			t.Errorf("got %v, want interrupted", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the watch went on after its context was cancelled")
	}
	if after := settledGoroutines(before + 2); after > before+2 {
		t.Errorf("goroutines: %d before, %d after a cancelled watch", before, after)
	}
}

func TestWaitE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	w := &watchEnv{t: t, env: env}
	w.mustRun(c, `
# a condition; kstatus; k8s.status
pod_create("p1", labels={"app": "w"})
p = k8s.wait("pod", "p1", condition="Ready", timeout="30s")
assert.eq(p.status.phase, "Running")
assert.eq(k8s.wait("pod/p1", condition="ready").metadata.name, "p1")
assert.eq(k8s.wait(p, condition="containersready").metadata.name, "p1")
assert.eq(k8s.status(p).status, "Current")
st = k8s.status({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "generation": 2},
                 "spec": {"replicas": 1}, "status": {"observedGeneration": 1}})
assert.eq(st.status, "InProgress")
assert.true("generation" in st.message.lower(), st.message)

# a predicate: Complete or Failed is any predicate
cm_set("c", "1")
cm_set("c", "done", after=0.3)
assert.eq(k8s.wait("cm", "c", until=lambda cm: cm.data.v == "done", timeout=10).data.v, "done")

# existence, then deletion
cm_set("late", "1", after=0.3)
assert.eq(k8s.wait("cm", "late").data.v, "1")
cm_delete("late", after=0.3)
assert.eq(k8s.wait("cm", "late", delete=True), None)
assert.eq(k8s.wait("cm", "never-there", delete=True), None)

# a selector waits for every match
pod_create("p2", labels={"app": "w"})
pod_create("p3", labels={"app": "w"})
ps = k8s.wait("pod", selector="app=w", condition="Ready", timeout="30s")
assert.eq([p.metadata.name for p in ps], ["p1", "p2", "p3"])
assert.eq([p.status.phase for p in ps], ["Running"] * 3)
pod_delete("p1")
pod_delete("p2")
pod_delete("p3")
assert.eq(k8s.wait("pod", selector="app=w", delete=True, timeout="30s"), None)

# a Deployment: its Available condition, then kstatus Current
deploy_create("d1")
d = k8s.wait("deploy", "d1", condition="Available", timeout="60s")
assert.eq(d.metadata.name, "d1")
d = k8s.wait("deployment.apps/d1", condition="ready", timeout="60s")
assert.eq(d.status.readyReplicas, 1)
assert.eq(k8s.status(d).status, "Current")
assert.true(k8s.logs(d, tail=1).startswith("[pod/d1-"))   # its pods, by its selector

# argument errors
assert.fails(lambda: k8s.wait("pod"), "k8s.wait: wait for which pod\\? give a name or a selector")
assert.fails(lambda: k8s.wait("pod", "p", condition="Ready", delete=True), "give one of condition, until and delete")
assert.fails(lambda: k8s.status("x"), "k8s.status: got string, want k8s.object or dict")
`)
}

func TestWaitTimeoutE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	w := &watchEnv{t: t, env: env}
	w.mustRun(c, `
pod_create("stuck", schedulable=False)
r = catch(k8s.wait, "pod", "stuck", condition="Ready", timeout="2s")
assert.true(r.error != None)
print(r.error)
assert.true(r.error.startswith("k8s.wait: timed out after 2s waiting for pod/stuck to be Ready; last seen:\n  %s/stuck: " % ns), r.error)
assert.true("PodScheduled=False (Unschedulable: " in r.error, r.error)
assert.true("phase Pending" in r.error, r.error)
assert.true("kstatus InProgress" in r.error, r.error)

r = catch(k8s.wait, "cm", "nope", timeout=0.5)
assert.eq(r.error, "k8s.wait: timed out after 500ms waiting for cm/nope to exist; it was never seen")
r = catch(k8s.wait, "cm", selector="none=here", until=lambda c: True, timeout=0.5)
assert.eq(r.error, 'k8s.wait: timed out after 500ms waiting for cm with selector "none=here" to satisfy until; no object matched')
`)
}

func TestLogsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	c := e2eClient(t, env, "sandbox")
	w := &watchEnv{t: t, env: env}
	// kwok serves the sandbox's pod.log (CRI format) as every container's
	// log: "sandbox log line N" for N from 1.
	w.mustRun(c, `
pod_create("l1", labels={"app": "logs"})
p = k8s.wait("pod", "l1", condition="Ready", timeout="30s")

text = k8s.logs("l1")
lines = text.splitlines()
assert.true(len(lines) >= 5, text)
assert.eq(lines[0], "sandbox log line 1")
assert.eq(k8s.logs(p, tail=1).splitlines(), [lines[-1]])
assert.eq(k8s.logs("pod/l1", container="main", tail=2).splitlines(), lines[-2:])
assert.true(k8s.logs("l1", tail=1, timestamps=True).startswith("20"))
assert.fails(lambda: k8s.logs("l1", container="nope"), "container nope is not valid for pod l1")
assert.fails(lambda: k8s.logs("nope"), 'k8s.logs: pods "nope" not found')
assert.fails(lambda: k8s.logs(), "k8s.logs: which pod\\?")

# a selector: every pod's lines, prefixed
sel = k8s.logs(selector="app=logs", tail=1)
assert.eq(sel, "[pod/l1/main] %s\n" % lines[-1])

# followed: lines as they come, with pod and container
got = []
for line in k8s.logs("l1", follow=True, timeout="10s"):
    got.append(line)
    if len(got) == 3:
        break
assert.eq([l.text for l in got], lines[:3])
assert.eq((got[0].pod, got[0].container, got[0].namespace), ("l1", "main", ns))

# followed by selector: a pod that appears later is followed too
seen = {}
pod_create("l2", labels={"app": "logs"}, after=0.5)
for line in k8s.logs(selector="app=logs", follow=True, timeout="30s"):
    seen[line.pod] = seen.get(line.pod, 0) + 1
    if seen.get("l1", 0) >= 5 and seen.get("l2", 0) >= 5:
        break
assert.true(seen.get("l2", 0) >= 5, seen)

`)
	before := runtime.NumGoroutine()
	w.mustRun(c, `
# a timeout ends a follow that has nothing more to say; so does break
t0 = elapsed()
n = len(list(k8s.logs("l1", follow=True, tail=0, timeout=0.5)))
assert.true(elapsed() - t0 < 3)
for i in range(3):
    for line in k8s.logs(selector="app=logs", follow=True):
        break
k8s.logs("l1", follow=True)   # never iterated: holds nothing
`)
	if after := settledGoroutines(before + 2); after > before+2 {
		t.Errorf("goroutines: %d before, %d after followed logs ended", before, after)
	}
}

package scripts

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

const scaledFrom = "k8sh.io/scaled-from"

// workload is what the test checks of a Deployment or StatefulSet: its
// replicas and its scaled-from annotation ("-" when it has none).
type workload struct {
	replicas int32
	from     string
}

func TestScriptScaleNamespaceE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	apps := env.Clientset.AppsV1()
	ns, other := env.Namespace, env.CreateNamespace(t)

	labels := func(app string) map[string]string { return map[string]string{"app": app} }
	podTemplate := func(app string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: labels(app)},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx"}}},
		}
	}
	deploy := func(ns, name string, replicas int32, meta map[string]string) {
		t.Helper()
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: meta},
			Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels(name)},
				Template: podTemplate(name)},
		}
		if _, err := apps.Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deploy(ns, "web", 2, map[string]string{"tier": "front"})
	deploy(ns, "api", 3, nil)
	deploy(ns, "idle", 0, nil)
	deploy(other, "elsewhere", 2, nil)
	one := int32(1)
	if _, err := apps.StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Labels: map[string]string{"tier": "front"}},
		Spec: appsv1.StatefulSetSpec{Replicas: &one, ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels("db")}, Template: podTemplate("db")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// state reads every workload of ns (deploy/NAME, sts/NAME), and checks
	// that the one in the other namespace was never touched.
	state := func() map[string]workload {
		t.Helper()
		out := map[string]workload{}
		from := func(m metav1.ObjectMeta) string {
			if v, ok := m.Annotations[scaledFrom]; ok {
				return v
			}
			return "-"
		}
		ds, err := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds.Items {
			out["deploy/"+d.Name] = workload{*d.Spec.Replicas, from(d.ObjectMeta)}
		}
		ss, err := apps.StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss.Items {
			out["sts/"+s.Name] = workload{*s.Spec.Replicas, from(s.ObjectMeta)}
		}
		e, err := apps.Deployments(other).Get(ctx, "elsewhere", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if *e.Spec.Replicas != 2 || from(e.ObjectMeta) != "-" {
			t.Fatalf("the deployment of another namespace was changed: replicas %d, annotation %q", *e.Spec.Replicas, from(e.ObjectMeta))
		}
		return out
	}
	want := func(step string, w map[string]workload) {
		t.Helper()
		if got := state(); !reflect.DeepEqual(got, w) {
			t.Fatalf("%s: workloads are %v, want %v", step, got, w)
		}
	}
	// statusReplicas checks that the controllers have caught up (what
	// --wait waits for): status.replicas is spec.replicas everywhere.
	statusCaughtUp := func(step string) {
		t.Helper()
		ds, _ := apps.Deployments(ns).List(ctx, metav1.ListOptions{})
		for _, d := range ds.Items {
			if d.Status.Replicas != *d.Spec.Replicas || d.Status.ReadyReplicas != *d.Spec.Replicas {
				t.Errorf("%s: after --wait, deployment %s has %d replicas (%d ready), want %d", step, d.Name, d.Status.Replicas, d.Status.ReadyReplicas, *d.Spec.Replicas)
			}
		}
		ss, _ := apps.StatefulSets(ns).List(ctx, metav1.ListOptions{})
		for _, s := range ss.Items {
			if s.Status.Replicas != *s.Spec.Replicas || s.Status.ReadyReplicas != *s.Spec.Replicas {
				t.Errorf("%s: after --wait, statefulset %s has %d replicas (%d ready), want %d", step, s.Name, s.Status.Replicas, s.Status.ReadyReplicas, *s.Spec.Replicas)
			}
		}
	}
	run := func(wantCode int, args ...string) result {
		t.Helper()
		return k8shStatus(t, wantCode, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns}, args...)...)
	}
	// row finds the output line of obj ("deployment/web") and checks it
	// holds each of parts.
	row := func(r result, obj string, parts ...string) {
		t.Helper()
		for _, l := range strings.Split(r.Stdout, "\n") {
			if strings.HasPrefix(l, obj+" ") {
				for _, p := range parts {
					if !strings.Contains(l, p) {
						t.Errorf("line of %s is %q, want it to contain %q\nstdout:\n%s", obj, l, p, r.Stdout)
					}
				}
				return
			}
		}
		t.Errorf("no line for %s in:\n%s", obj, r.Stdout)
	}

	original := map[string]workload{
		"deploy/web": {2, "-"}, "deploy/api": {3, "-"}, "deploy/idle": {0, "-"}, "sts/db": {1, "-"},
	}
	want("before", original)

	// A dry run changes nothing and says what it would do.
	r := run(0, "--dry-run", "scale-namespace.star", "0")
	row(r, "deployment/web", "2 -> 0", "would scale (records 2)")
	row(r, "deployment/api", "3 -> 0", "would scale (records 3)")
	row(r, "statefulset/db", "1 -> 0", "would scale (records 1)")
	row(r, "deployment/idle", "already 0, left alone")
	if !strings.Contains(r.Stdout, "dry run: nothing is changed") {
		t.Errorf("the dry run does not say so:\n%s", r.Stdout)
	}
	want("after --dry-run", original)

	// Scale to 0 (one precondition patch per object) and wait for it.
	r = run(0, "scale-namespace.star", "0", "--wait")
	row(r, "deployment/web", "2 -> 0", "scaled")
	row(r, "statefulset/db", "1 -> 0", "scaled")
	row(r, "deployment/idle", "already 0, left alone")
	if !strings.Contains(r.Stdout, "all 3 ready") {
		t.Errorf("--wait did not report the 3 scaled objects ready:\n%s", r.Stdout)
	}
	parked := map[string]workload{
		"deploy/web": {0, "2"}, "deploy/api": {0, "3"}, "deploy/idle": {0, "-"}, "sts/db": {0, "1"},
	}
	want("after scaling to 0", parked)
	statusCaughtUp("scale to 0")

	// Again: nothing to do, and the recorded counts stay.
	r = run(0, "scale-namespace.star", "0")
	row(r, "deployment/web", "already 0 (scaled from 2)")
	want("after scaling to 0 twice", parked)

	// To 1 through the bulk apply: every object moves, the first recorded
	// count stays (idle records 0).
	r = run(0, "scale-namespace.star", "1", "--parallel", "3")
	row(r, "deployment/api", "0 -> 1", "scaled")
	row(r, "deployment/idle", "0 -> 1", "scaled")
	want("after scaling to 1 with --parallel 3", map[string]workload{
		"deploy/web": {1, "2"}, "deploy/api": {1, "3"}, "deploy/idle": {1, "0"}, "sts/db": {1, "1"},
	})

	// A dry-run restore changes nothing.
	before := state()
	r = run(0, "--dry-run", "scale-namespace.star", "--restore", "--parallel", "4")
	row(r, "deployment/api", "1 -> 3", "would restore")
	want("after a dry-run restore", before)

	// Restore through the bulk apply. The annotation is co-owned by the
	// first run's patch, so the script must drop it by patch.
	r = run(0, "scale-namespace.star", "--restore", "--parallel", "4", "--wait")
	row(r, "deployment/web", "1 -> 2", "restored")
	row(r, "deployment/idle", "1 -> 0", "restored")
	want("after --restore --parallel 4", original)
	statusCaughtUp("restore")

	// Nothing annotated any more: a restore does nothing.
	r = run(0, "scale-namespace.star", "--restore")
	if !strings.Contains(r.Stdout, "0 of 4 deployments and statefulsets to restore") {
		t.Errorf("a second restore should find nothing to do:\n%s", r.Stdout)
	}

	// The other two ways round: bulk scale with a selector, patch restore;
	// bulk scale, bulk restore (the annotation then has one owner).
	r = run(0, "scale-namespace.star", "0", "-l", "tier=front", "--parallel", "2")
	want("after scaling tier=front to 0", map[string]workload{
		"deploy/web": {0, "2"}, "deploy/api": {3, "-"}, "deploy/idle": {0, "-"}, "sts/db": {0, "1"},
	})
	run(0, "scale-namespace.star", "--restore")
	want("after --restore", original)
	run(0, "scale-namespace.star", "5", "--parallel", "2")
	want("after scaling to 5", map[string]workload{
		"deploy/web": {5, "2"}, "deploy/api": {5, "3"}, "deploy/idle": {5, "0"}, "sts/db": {5, "1"},
	})
	run(0, "scale-namespace.star", "--restore", "--parallel", "2")
	want("after --restore --parallel 2", original)

	// Without the right to patch, every object fails, each is named, the
	// exit status is 1, and nothing changed; both ways.
	for _, p := range []string{"1", "2"} {
		r = run(1, "--context", "sandbox-viewer", "scale-namespace.star", "0", "--parallel", p)
		for _, obj := range []string{"deployment/web", "deployment/api", "statefulset/db"} {
			if !strings.Contains(r.Stdout, fmt.Sprintf("FAILED %s: ", obj)) || !strings.Contains(r.Stdout, "forbidden") {
				t.Errorf("--parallel %s as a viewer: no failure reported for %s:\n%s", p, obj, r.Stdout)
			}
		}
		want("after a forbidden run", original)
	}

	// Bad arguments: a usage line, exit status 2, nothing changed.
	for _, args := range [][]string{{}, {"-1"}, {"2", "--restore"}, {"x"}, {"1", "--parallel", "0"}, {"1", "--bogus"}} {
		r = run(2, append([]string{"scale-namespace.star"}, args...)...)
		if !strings.Contains(r.Stderr, "usage: scale-namespace.star") {
			t.Errorf("args %q: no usage line on stderr:\n%s", args, r.Stderr)
		}
	}
	want("after bad arguments", original)
}

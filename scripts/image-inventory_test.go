package scripts

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// inventoryTemplate is a pod template labelled app=name with the containers
// given as name, image pairs; init ones have names starting with "init".
func inventoryTemplate(name string, containers ...string) corev1.PodTemplateSpec {
	var s corev1.PodSpec
	for i := 0; i < len(containers); i += 2 {
		c := corev1.Container{Name: containers[i], Image: containers[i+1]}
		if strings.HasPrefix(c.Name, "init") {
			s.InitContainers = append(s.InitContainers, c)
		} else {
			s.Containers = append(s.Containers, c)
		}
	}
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}, Spec: s}
}

func inventoryDeployment(name string, replicas int32, tpl corev1.PodTemplateSpec) *appsv1.Deployment {
	return &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: appsv1.DeploymentSpec{
		Replicas: &replicas,
		Selector: &metav1.LabelSelector{MatchLabels: tpl.Labels},
		Template: tpl,
	}}
}

// inventoryRow is one entry of image-inventory.star -o json.
type inventoryRow struct {
	Image     string `json:"image"`
	Pods      int    `json:"pods"`
	Workloads []struct {
		Namespace  string   `json:"namespace"`
		Kind       string   `json:"kind"`
		Name       string   `json:"name"`
		Containers []string `json:"containers"`
	} `json:"workloads"`
}

func TestScriptImageInventoryE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	cs := env.Clientset
	ns1, ns2 := env.Namespace, env.CreateNamespace(t)
	// Images no other test uses, so that -A can be checked too.
	img := func(s string) string { return "example.test/" + ns1 + "/" + s }

	// ns1: a Deployment (init container, two containers), a bare Pod sharing
	// its image, a StatefulSet, a DaemonSet, a Job of a CronJob, and a
	// Deployment scaled to 0. ns2: a Deployment sharing the sidecar image.
	mk := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err := cs.AppsV1().Deployments(ns1).Create(ctx, inventoryDeployment("web", 2,
		inventoryTemplate("web", "init-db", img("init:1"), "web", img("web:1"), "sidecar", img("shared:1"))), metav1.CreateOptions{})
	mk(err)
	_, err = cs.AppsV1().Deployments(ns1).Create(ctx, inventoryDeployment("zero", 0,
		inventoryTemplate("zero", "z", img("zero:1"))), metav1.CreateOptions{})
	mk(err)
	_, err = cs.AppsV1().Deployments(ns2).Create(ctx, inventoryDeployment("api", 1,
		inventoryTemplate("api", "api", img("shared:1"))), metav1.CreateOptions{})
	mk(err)
	solo := inventoryTemplate("solo", "solo", img("web:1"))
	_, err = cs.CoreV1().Pods(ns1).Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "solo"}, Spec: solo.Spec}, metav1.CreateOptions{})
	mk(err)
	dbTpl := inventoryTemplate("db", "db", img("db:1"))
	_, err = cs.AppsV1().StatefulSets(ns1).Create(ctx, &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: dbTpl.Labels}, Template: dbTpl}}, metav1.CreateOptions{})
	mk(err)
	agentTpl := inventoryTemplate("agent", "agent", img("agent:1"))
	// One node of the sandbox's two: one agent pod.
	agentTpl.Spec.NodeSelector = map[string]string{"kubernetes.io/hostname": "kwok-node-0"}
	_, err = cs.AppsV1().DaemonSets(ns1).Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: agentTpl.Labels}, Template: agentTpl}}, metav1.CreateOptions{})
	mk(err)
	// The CronJob's template now says job:2; the Job it made (made here by
	// hand, owned by it, so that no schedule has to come) ran job:1.
	suspend := true
	jobTpl := func(image string) corev1.PodTemplateSpec {
		tpl := inventoryTemplate("", "task", image)
		tpl.Labels = nil
		tpl.Spec.RestartPolicy = corev1.RestartPolicyNever
		return tpl
	}
	cj, err := cs.BatchV1().CronJobs(ns1).Create(ctx, &batchv1.CronJob{ObjectMeta: metav1.ObjectMeta{Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *", Suspend: &suspend, JobTemplate: batchv1.JobTemplateSpec{
			Spec: batchv1.JobSpec{Template: jobTpl(img("job:2"))}}}}, metav1.CreateOptions{})
	mk(err)
	yes := true
	_, err = cs.BatchV1().Jobs(ns1).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "nightly-1", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "batch/v1", Kind: "CronJob", Name: cj.Name, UID: cj.UID, Controller: &yes}}},
		Spec: batchv1.JobSpec{Template: jobTpl(img("job:1"))}}, metav1.CreateOptions{})
	mk(err)

	// Every pod made: web x2, solo, db-0, agent, nightly-1's; api in ns2.
	deadline := time.Now().Add(90 * time.Second)
	for {
		p1, err := cs.CoreV1().Pods(ns1).List(ctx, metav1.ListOptions{})
		mk(err)
		p2, err := cs.CoreV1().Pods(ns2).List(ctx, metav1.ListOptions{})
		mk(err)
		if len(p1.Items) == 6 && len(p2.Items) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("want 6 pods in %s and 1 in %s, have %d and %d", ns1, ns2, len(p1.Items), len(p2.Items))
		}
		time.Sleep(300 * time.Millisecond)
	}
	script := "image-inventory.star"
	table := func(rows ...[3]string) string {
		rows = append([][3]string{{"IMAGE", "PODS", "WORKLOADS"}}, rows...)
		w0, w1 := 0, 0
		for _, r := range rows {
			w0, w1 = max(w0, len(r[0])), max(w1, len(r[1]))
		}
		var b strings.Builder
		for _, r := range rows {
			fmt.Fprintf(&b, "%-*s   %-*s   %s\n", w0, r[0], w1, r[1], r[2])
		}
		return b.String()
	}

	// One namespace, the pods only: each owner resolved to its workload.
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, script, "-n", ns1)
	want := table(
		[3]string{img("agent:1"), "1", "daemonset/agent"},
		[3]string{img("db:1"), "1", "statefulset/db"},
		[3]string{img("init:1"), "2", "deployment/web"},
		[3]string{img("job:1"), "1", "cronjob/nightly"},
		[3]string{img("shared:1"), "2", "deployment/web"},
		[3]string{img("web:1"), "3", "deployment/web, pod/solo"},
	)
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("-n %s: got %+v\nwant stdout:\n%s", ns1, r, want)
	}

	// --templates: also what only the templates declare, with 0 pods.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns1, script, "--namespace="+ns1, "--templates")
	want = table(
		[3]string{img("agent:1"), "1", "daemonset/agent"},
		[3]string{img("db:1"), "1", "statefulset/db"},
		[3]string{img("init:1"), "2", "deployment/web"},
		[3]string{img("job:1"), "1", "cronjob/nightly"},
		[3]string{img("job:2"), "0", "cronjob/nightly"},
		[3]string{img("shared:1"), "2", "deployment/web"},
		[3]string{img("web:1"), "3", "deployment/web, pod/solo"},
		[3]string{img("zero:1"), "0", "deployment/zero"},
	)
	if r.Code != 0 || r.Stdout != want {
		t.Fatalf("--templates: got %+v\nwant stdout:\n%s", r, want)
	}

	// Every namespace (the default), as JSON: the shared image in both.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, script, "-o", "json")
	var rows []inventoryRow
	if r.Code != 0 {
		t.Fatalf("-o json: got %+v", r)
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil {
		t.Fatalf("-o json: %v in %q", err, r.Stdout)
	}
	if !slices.IsSortedFunc(rows, func(a, b inventoryRow) int { return strings.Compare(a.Image, b.Image) }) {
		t.Errorf("-o json: not sorted by image")
	}
	got := map[string]string{}
	for _, row := range rows {
		if !strings.HasPrefix(row.Image, img("")) {
			continue // another test's
		}
		var wls []string
		for _, w := range row.Workloads {
			wls = append(wls, fmt.Sprintf("%s/%s/%s%v", w.Namespace, w.Kind, w.Name, w.Containers))
		}
		got[row.Image] = fmt.Sprintf("%d %s", row.Pods, strings.Join(wls, " "))
	}
	wantJSON := map[string]string{
		img("agent:1"):  "1 " + ns1 + "/DaemonSet/agent[agent]",
		img("db:1"):     "1 " + ns1 + "/StatefulSet/db[db]",
		img("init:1"):   "2 " + ns1 + "/Deployment/web[init-db]",
		img("job:1"):    "1 " + ns1 + "/CronJob/nightly[task]",
		img("shared:1"): "3 " + strings.Join(inventorySorted(ns1+"/Deployment/web[sidecar]", ns2+"/Deployment/api[api]"), " "),
		img("web:1"):    "3 " + ns1 + "/Deployment/web[web] " + ns1 + "/Pod/solo[solo]",
	}
	for image, w := range wantJSON {
		if got[image] != w {
			t.Errorf("-o json: %s: got %q, want %q", image, got[image], w)
		}
	}
	if len(got) != len(wantJSON) {
		t.Errorf("-o json: images of this test: got %v, want %v", got, wantJSON)
	}

	// The same in a table across namespaces names each workload's namespace.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, script, "-A")
	line := regexp.MustCompile("(?m)^" + regexp.QuoteMeta(img("shared:1")) + " +3 +" +
		regexp.QuoteMeta(strings.Join(inventorySorted(ns1+"/deployment/web", ns2+"/deployment/api"), ", ")) + "$")
	if r.Code != 0 || !line.MatchString(r.Stdout) {
		t.Errorf("-A: no line for %s with both namespaces in %q", img("shared:1"), r.Stdout)
	}

	// Bad arguments: a clear usage error, exit status 2.
	for _, args := range [][]string{{"-o", "yaml"}, {"-n"}, {"extra"}} {
		r = k8sh(t, "", nil, append([]string{"--kubeconfig", env.Kubeconfig, script}, args...)...)
		if r.Code != 2 || !strings.Contains(r.Stderr, "usage: image-inventory.star") || r.Stdout != "" {
			t.Errorf("args %q: want a usage error, got %+v", args, r)
		}
	}
}

func inventorySorted(s ...string) []string {
	slices.Sort(s)
	return s
}

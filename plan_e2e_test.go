package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// planSetup is what the plan's script finds: a ConfigMap, a Deployment, a
// Service and a Secret.
const planSetup = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: old}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: nginx:1.27}]}
---
apiVersion: v1
kind: Service
metadata: {name: old-svc}
spec: {selector: {app: old}, ports: [{port: 80}]}
---
apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
`

// planScript creates, changes and deletes objects of several kinds, and
// reads its own writes (and fails if it does not read them).
const planScript = `ns = sys.argv[1]
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new-cm", "namespace": ns}, "data": {"k": "v"}})
assert.eq(k8s.get("configmap", "new-cm", namespace=ns).data.k, "v")
k8s.patch("configmap", "settings", {"data": {"mode": "new"}}, namespace=ns)
assert.eq(k8s.get("configmap", "settings", namespace=ns).data["mode"], "new")
k8s.scale("deployment", "web", 3, namespace=ns)
assert.eq(k8s.get("deploy", "web", namespace=ns).spec.replicas, 3)
sec = k8s.get("secret", "creds", namespace=ns)
sec.data["password"] = base64.encode("s3cret")
k8s.update(sec)
k8s.delete("service", "old-svc", namespace=ns)
assert.eq(k8s.get("service", "old-svc", namespace=ns, default=None), None)
assert.true("new-cm" in [c.metadata.name for c in k8s.list("configmaps", namespace=ns)])
assert.true("new-cm" in [c.metadata.name for c in k8s.iter("configmaps", namespace=ns)])  # pages, not a streaming list
assert.eq([s.metadata.name for s in k8s.list("services", namespace=ns)], [])
k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": ns}, "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
k8s.patch("configmap", "new-cm", {"data": {"k2": "v2"}}, namespace=ns)
assert.eq(dict(k8s.get("configmap", "new-cm", namespace=ns).data), {"k": "v", "k2": "v2"})
if k8s.get("deploy", "web", namespace=ns).spec.replicas == 3:
    k8s.label("deploy/web", {"scaled": "yes"}, namespace=ns)
print("script done")
`

// planState is the touched kinds of ns as kubectl shows them, without
// resourceVersions: what a plan must leave byte for byte as it was.
func planState(t *testing.T, kc *kubetest.Kubectl, ns string) string {
	t.Helper()
	out := kc.Must(t, "", "get", "configmaps,deployments,services,secrets", "-n", ns, "-o", "yaml")
	return regexp.MustCompile(`(?m)^\s*resourceVersion: .*\n`).ReplaceAllString(out, "")
}

// planObjects is the touched kinds of ns without what differs between two
// runs of the same changes (uids, times, cluster IPs, status, managers).
func planObjects(t *testing.T, kc *kubetest.Kubectl, ns string) map[string]any {
	t.Helper()
	out := kc.Must(t, "", "get", "configmaps,deployments,services,secrets", "-n", ns, "-o", "json")
	var list struct{ Items []map[string]any }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	objs := map[string]any{}
	for _, it := range list.Items {
		md := it["metadata"].(map[string]any)
		if md["name"] == "kube-root-ca.crt" {
			continue
		}
		ann, _ := md["annotations"].(map[string]any)
		delete(ann, "deployment.kubernetes.io/revision")
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		if len(ann) == 0 {
			ann = nil
		}
		spec, _ := it["spec"].(map[string]any)
		if spec != nil {
			delete(spec, "clusterIP")
			delete(spec, "clusterIPs")
		}
		objs[it["kind"].(string)+"/"+md["name"].(string)] = map[string]any{
			"labels": md["labels"], "annotations": ann, "data": it["data"], "spec": spec,
		}
	}
	return objs
}

func TestPlanE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	ns := env.Namespace
	setup := func(ns string) {
		kc.Must(t, planSetup, "apply", "-n", ns, "-f", "-")
		kc.Must(t, "", "rollout", "status", "-n", ns, "deployment/web", "--timeout=60s")
	}
	setup(ns)
	dir := t.TempDir()
	script := filepath.Join(dir, "change.star")
	if err := os.WriteFile(script, []byte(planScript), 0o644); err != nil {
		t.Fatal(err)
	}
	before := planState(t, kc, ns)
	planFile := filepath.Join(dir, "plan.yaml")
	// A journal of this test's own: a plan's dry runs are no changes to
	// journal; applying the plan is one run of the journal.
	state := []string{"XDG_STATE_HOME=" + t.TempDir()}
	r := k8sh(t, "", state, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "--plan-out", planFile, script, ns)
	if r.Code != 0 {
		t.Fatalf("--plan: %+v", r)
	}
	t.Logf("the plan:\n%s", r.Stdout)
	// Every change, grouped by object, in the order of each object's first
	// change, then the summary.
	var titles []string
	for _, l := range strings.Split(r.Stdout, "\n") {
		if strings.HasPrefix(l, "+ ") || strings.HasPrefix(l, "~ ") || strings.HasPrefix(l, "- ") {
			titles = append(titles, l)
		}
	}
	want := []string{
		"+ create configmap/new-cm in " + ns,
		"~ update configmap/new-cm in " + ns,
		"~ update configmap/settings in " + ns,
		"~ update deployment.apps/web in " + ns + " (scale)",
		"~ update deployment.apps/web in " + ns,
		"~ update secret/creds in " + ns,
		"- delete service/old-svc in " + ns,
		"+ create service/web in " + ns,
	}
	if !reflect.DeepEqual(titles, want) {
		t.Errorf("the plan's changes:\n%s\nwant:\n%s", strings.Join(titles, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range []string{
		"script done\n",
		"    --- live/configmap/settings\n    +++ planned/configmap/settings\n",
		"    -  mode: old\n    +  mode: new\n",
		"    +  k2: v2\n",
		"    -  replicas: 1\n    +  replicas: 3\n",
		"    +    scaled: \"yes\"\n",
		"    -  password: (hidden)\n    +  password: (hidden, changed)\n",
		"Plan: 2 to create, 5 to change, 1 to delete in sandbox/" + ns + "\n",
	} {
		if !strings.Contains(r.Stdout, s) {
			t.Errorf("the plan lacks %q", s)
		}
	}
	if strings.Contains(r.Stdout, "hunter2") || strings.Contains(r.Stdout, "czNjcmV0") || strings.Contains(r.Stdout, "managedFields") {
		t.Errorf("the plan shows a Secret's value or managedFields")
	}
	if after := planState(t, kc, ns); after != before {
		t.Fatalf("--plan changed the cluster:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if r := k8sh(t, "", state, "history"); r.Code != 0 || !strings.HasPrefix(r.Stderr, "No runs in the journal") {
		t.Errorf("k8sh history after --plan: %+v", r)
	}

	// --detailed-exitcode: 2 when there are changes, 0 when there are none.
	if r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "--detailed-exitcode", script, ns); r.Code != 2 {
		t.Errorf("--detailed-exitcode with changes: %d, want 2; %s", r.Code, r.Stderr)
	}
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "--detailed-exitcode", "-c", `k8s.get("configmap", "settings")`)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Plan: no changes in sandbox/"+ns) {
		t.Errorf("--detailed-exitcode without changes: %+v", r)
	}

	// A read the plan cannot answer (a rollout's status after a planned
	// scale) ends the run, saying so, and the plan lists it.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "-c", `k8s.scale("deploy/web", 5)
k8s.rollout.status("deploy/web")`)
	if r.Code != 1 || !strings.Contains(r.Stdout, "  ! cannot watch deployments in a plan") ||
		!strings.Contains(r.Stderr, "k8sh plan: cannot watch deployments in a plan") || !strings.Contains(r.Stdout, "Plan: 0 to create, 1 to change, 0 to delete") {
		t.Errorf("a rollout status in a plan: %+v", r)
	}

	// --apply-plan makes the changes; the result is what a plain run makes.
	r = k8sh(t, "", state, "--kubeconfig", env.Kubeconfig, "--apply-plan", planFile)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Applied: 2 created, 5 changed, 1 deleted in sandbox/"+ns) {
		t.Fatalf("--apply-plan: %+v", r)
	}
	if r := k8sh(t, "", state, "history"); r.Code != 0 || strings.Count(r.Stdout, "--apply-plan") != 1 {
		t.Errorf("k8sh history after --apply-plan: %+v", r)
	}
	plain := env.CreateNamespace(t)
	setup(plain)
	if r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", plain, script, plain); r.Code != 0 {
		t.Fatalf("the plain run: %+v", r)
	}
	if got, want := planObjects(t, kc, ns), planObjects(t, kc, plain); !reflect.DeepEqual(got, want) {
		g, _ := json.MarshalIndent(got, "", " ")
		w, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("--apply-plan made:\n%s\na plain run made:\n%s", g, w)
	}
	// Applied again, the plan is stale at its first object.
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--apply-plan", planFile)
	if r.Code != 1 || !strings.Contains(r.Stderr, "configmap/new-cm in namespace "+ns+" was created") {
		t.Errorf("the plan applied twice: %+v", r)
	}
}

// TestPlanStaleE2E: an object changed between the plan and its apply stops
// the apply before that object's change, and nothing after it is made.
func TestPlanStaleE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	ns := env.Namespace
	kc.Must(t, "", "create", "configmap", "a", "-n", ns, "--from-literal=x=1")
	kc.Must(t, "", "create", "configmap", "b", "-n", ns, "--from-literal=x=1")
	kc.Must(t, "", "create", "configmap", "c", "-n", ns, "--from-literal=x=1")
	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "--plan-out", planFile, "-c",
		`for n in ["a", "b", "c"]: k8s.patch("configmap", n, {"data": {"x": "2"}})`)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Plan: 0 to create, 3 to change, 0 to delete") {
		t.Fatalf("--plan: %+v", r)
	}
	kc.Must(t, "", "patch", "configmap", "b", "-n", ns, "-p", `{"data":{"x":"someone"}}`)
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--apply-plan", planFile)
	if r.Code != 1 || !strings.Contains(r.Stderr, "configmap/b in namespace "+ns+" changed (resourceVersion ") ||
		!strings.Contains(r.Stderr, `by "kubectl-patch" (Update at `) || !strings.Contains(r.Stderr, "stopped before change 2 (~ update configmap/b in "+ns+")") {
		t.Fatalf("a stale plan: %+v", r)
	}
	for n, want := range map[string]string{"a": "1", "b": "someone", "c": "1"} {
		if got := kc.Must(t, "", "get", "configmap", n, "-n", ns, "-o", "jsonpath={.data.x}"); got != want {
			t.Errorf("configmap %s: x=%q, want %q", n, got, want)
		}
	}
}

// TestPlanREPLE2E: in the REPL, plan(fn) prints the plan of fn's changes
// and changes nothing; help(plan) documents it; p.apply() makes them.
func TestPlanREPLE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	ns := env.Namespace
	kc.Must(t, "", "create", "configmap", "settings", "-n", ns, "--from-literal=mode=old")
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns)
	prompt := "k8sh sandbox:" + ns + "> "
	at := tm.expect(0, prompt)
	tm.send("help(plan)\r")
	at = tm.expect(at, "k8s.plan(fn, *args, **kwargs)")
	at = tm.expect(at, prompt)
	tm.send(`def change(): k8s.patch("configmap", "settings", {"data": {"mode": "new"}}); k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}}); return k8s.get("configmap", "made").metadata.name` + "\r\r")
	at = tm.expect(at, prompt)
	tm.send("p = k8s.plan(change)\r")
	at = tm.expect(at, "configmap/settings patched (planned)\n")
	at = tm.expect(at, "configmap/made created (planned)\n")
	at = tm.expect(at, prompt)
	tm.send("p\r")
	at = tm.expect(at, "~ update configmap/settings in "+ns+"\n")
	at = tm.expect(at, "    -  mode: old\n    +  mode: new\n")
	at = tm.expect(at, "+ create configmap/made in "+ns+"\n")
	at = tm.expect(at, "Plan: 1 to create, 1 to change, 0 to delete in sandbox/"+ns+"\n")
	at = tm.expect(at, prompt)
	if got := kc.Must(t, "", "get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"); got != "old" {
		t.Fatalf("the plan changed the cluster: mode=%q", got)
	}
	if _, _, code := kc.Run("", "get", "configmap", "made", "-n", ns); code == 0 {
		t.Fatal("the plan created configmap/made")
	}
	tm.send("p.apply()\r")
	at = tm.expect(at, "configmap/settings changed\n")
	at = tm.expect(at, "configmap/made created\n")
	at = tm.expect(at, "2\n")
	tm.expect(at, prompt)
	if got := kc.Must(t, "", "get", "configmap", "settings", "-n", ns, "-o", "jsonpath={.data.mode}"); got != "new" {
		t.Errorf("after p.apply(): mode=%q", got)
	}
	kc.Must(t, "", "get", "configmap", "made", "-n", ns)
}

// TestPlanConfirmE2E: --confirm shows the plan, asks on the terminal, and
// applies it on "y"; anything else changes nothing.
func TestPlanConfirmE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	ns := env.Namespace
	code := `k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "asked"}, "data": {"a": "1"}})`
	tm := startREPL(t, []string{"NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns, "--confirm", "-c", code)
	at := tm.expect(0, "+ create configmap/asked in "+ns+"\n")
	at = tm.expect(at, "Plan: 1 to create, 0 to change, 0 to delete in sandbox/"+ns+"\n")
	tm.expect(at, "Apply these changes in sandbox/"+ns+"? (y/N) ")
	if _, _, code := kc.Run("", "get", "configmap", "asked", "-n", ns); code == 0 {
		t.Fatal("created before the answer")
	}
	tm.send("n\r")
	<-tm.done
	if err := tm.cmd.Wait(); err == nil || !strings.Contains(tm.screen(), "not confirmed: nothing was changed") {
		t.Fatalf("declined: %v\n%s", err, tm.screen())
	}
	if _, _, code := kc.Run("", "get", "configmap", "asked", "-n", ns); code == 0 {
		t.Fatal("declined, and created")
	}
	tm = startREPL(t, []string{"NO_COLOR=1"}, "--kubeconfig", env.Kubeconfig, "-n", ns, "--confirm", "-c", code)
	at = tm.expect(0, "(y/N) ")
	tm.send("y\r")
	tm.expect(at, "Applied: 1 created, 0 changed, 0 deleted in sandbox/"+ns+"\n")
	<-tm.done
	if err := tm.cmd.Wait(); err != nil {
		t.Fatalf("confirmed: %v\n%s", err, tm.screen())
	}
	if got := kc.Must(t, "", "get", "configmap", "asked", "-n", ns, "-o", "jsonpath={.data.a}"); got != "1" {
		t.Errorf("confirmed: a=%q", got)
	}
}

// TestPlanGenerateNameE2E: an object the plan creates with generateName
// has the dry run's name in the plan; applying it uses the name the real
// create makes in the changes that follow.
func TestPlanGenerateNameE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	ns := env.Namespace
	planFile := filepath.Join(t.TempDir(), "plan.yaml")
	r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-n", ns, "--plan", "--plan-out", planFile, "-c", `j = k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": "gen-"}})
k8s.patch("configmap", j.metadata.name, {"data": {"g": "1"}})
assert.eq(k8s.get("configmap", j.metadata.name).data.g, "1")`)
	if r.Code != 0 || !strings.Contains(r.Stdout, "Plan: 1 to create, 1 to change, 0 to delete") {
		t.Fatalf("--plan: %+v", r)
	}
	r = k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "--apply-plan", planFile)
	if r.Code != 0 {
		t.Fatalf("--apply-plan: %+v", r)
	}
	names := strings.Fields(kc.Must(t, "", "get", "configmaps", "-n", ns, "-o", `jsonpath={range .items[?(@.data.g=="1")]}{.metadata.name}{" "}{end}`))
	if len(names) != 1 || !strings.HasPrefix(names[0], "gen-") {
		t.Fatalf("made: %q", names)
	}
	if !strings.Contains(r.Stdout, "configmap/"+names[0]+" created\nconfigmap/"+names[0]+" changed\n") {
		t.Errorf("--apply-plan said: %s", r.Stdout)
	}
}

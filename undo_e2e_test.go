package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// undoKinds are the kinds the undo tests compare before and after: what
// the scripts change. ReplicaSets and Pods are left out: the Deployment
// controller makes them (new names after a Deployment comes back), and the
// journal holds what the run changed, not what controllers did.
const undoKinds = "configmaps,deployments.apps,services,secrets,serviceaccounts"

// snapshot is `kubectl get KINDS -o json` of the test's namespace, as
// stable YAML-like JSON text, without what the server sets at every write
// or creation: metadata.resourceVersion, uid, creationTimestamp,
// managedFields and generation (a created-again object has new ones;
// managedFields also carry times), status (the controllers'), and the
// deployment.kubernetes.io/revision annotation (the Deployment controller
// counts template changes with it). A Service's clusterIP is kept: undo
// sends it again.
func snapshot(t *testing.T, kc *kubetest.Kubectl) string {
	t.Helper()
	out := kc.Must(t, "", "get", undoKinds, "-o", "json")
	var list struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatal(err)
	}
	for _, it := range list.Items {
		delete(it, "status")
		md := it["metadata"].(map[string]any)
		for _, f := range []string{"resourceVersion", "uid", "creationTimestamp", "managedFields", "generation"} {
			delete(md, f)
		}
		if ann, ok := md["annotations"].(map[string]any); ok {
			delete(ann, "deployment.kubernetes.io/revision")
			if len(ann) == 0 {
				delete(md, "annotations")
			}
		}
	}
	b, _ := json.MarshalIndent(list.Items, "", "  ")
	return string(b)
}

const undoSetup = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: demo}}
data: {mode: slow, size: "3"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: doomed}
data: {x: "1"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: app, image: nginx:1.27}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata: {labels: {app: api}}
    spec: {containers: [{name: app, image: busybox:1.36}]}
`

// undoScript creates, changes and deletes several kinds, and reads its
// own writes.
const undoScript = `
k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "new"}, "data": {"a": "1"}})
cm = k8s.get("configmap", "settings")
cm.data["mode"] = "fast"
k8s.update(cm)
k8s.label("configmap/settings", {"tier": "gold"})
k8s.create({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
             "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
k8s.create({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"generateName": "bot-"}})
k8s.scale("deploy", "api", 3)
k8s.delete("deploy", "web")
k8s.delete("configmap", "doomed")
assert.eq(k8s.get("configmap", "new").data["a"], "1")
assert.eq(k8s.get("configmap", "settings").metadata.labels["tier"], "gold")
assert.eq(k8s.exists("deploy", "web"), False)
print("done")
`

func TestUndoE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	kc.Must(t, undoSetup, "apply", "-f", "-")
	state := t.TempDir()
	xdg := []string{"XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(), "K8SH_YES="}
	run := func(args ...string) result {
		return k8sh(t, "", xdg, append([]string{"--kubeconfig", env.Kubeconfig, "-n", env.Namespace}, args...)...)
	}
	before := snapshot(t, kc)

	script := filepath.Join(t.TempDir(), "migrate.star")
	os.WriteFile(script, []byte(undoScript), 0o644)
	if r := run(script); r.Code != 0 || r.Stdout != "done\n" {
		t.Fatalf("the script: %+v", r)
	}
	changed := snapshot(t, kc)
	if changed == before {
		t.Fatal("the script changed nothing")
	}

	// The journal: one file, private, listed by history.
	files, _ := filepath.Glob(filepath.Join(state, "k8sh", "journal", "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("journal files %q, want one", files)
	}
	if fi, _ := os.Stat(files[0]); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal file mode %v, want 0600", fi.Mode())
	}
	id := strings.TrimSuffix(filepath.Base(files[0]), ".jsonl")
	r := run("history")
	if r.Code != 0 || !regexp.MustCompile(`(?m)^RUN +TIME +CONTEXT +CHANGES +UNDONE +COMMAND\n`+id+` .* sandbox +8 +no +k8sh --kubeconfig .* `+regexp.QuoteMeta(script)+`\n$`).MatchString(r.Stdout) {
		t.Errorf("history: %+v", r)
	}
	r = run("history", id[:15])
	for _, want := range []string{"create   configmap/new -n " + env.Namespace, "update   configmap/settings",
		"create   service/web", "create   serviceaccount/bot-", "update   deployment.apps/api (scale)", "delete   deployment.apps/web", "delete   configmap/doomed"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("history %s lacks %q:\n%s", id, want, r.Stdout)
		}
	}

	// --plan says what undo would do, and changes nothing.
	r = run("undo", "--plan")
	for _, want := range []string{
		"+ create  configmap/doomed", "+ create  deployment.apps/web", "~ restore deployment.apps/api",
		"- delete  serviceaccount/bot-", "- delete  service/web", "~ restore configmap/settings", "- delete  configmap/new",
		"-  mode: fast", "+  mode: slow", "Undo plan: 2 to create, 2 to restore, 3 to delete.",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("undo --plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	if r.Code != 0 || snapshot(t, kc) != changed {
		t.Fatalf("undo --plan changed the cluster, or failed: %+v", r)
	}

	// Undo puts the cluster back as it was before the run.
	r = run("undo")
	if r.Code != 0 {
		t.Fatalf("undo: %+v", r)
	}
	for _, want := range []string{"configmap/doomed created", "deployment.apps/web created", "deployment.apps/api restored", "service/web deleted", "configmap/settings restored", "configmap/new deleted"} {
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("undo's output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if got := snapshot(t, kc); got != before {
		t.Errorf("after undo the cluster is not as before the run:\n--- before\n%s\n--- after undo\n%s", before, got)
	}
	r = run("history")
	if !strings.Contains(r.Stdout, "yes (by ") || !regexp.MustCompile(`(?m) +7 +no +k8sh .* undo$`).MatchString(r.Stdout) {
		t.Errorf("history after undo: %s", r.Stdout)
	}
	if r := run("undo", id); r.Code != 1 || !strings.Contains(r.Stderr, "is undone already") {
		t.Errorf("undo of an undone run: %+v", r)
	}

	// Undo of the undo brings the run's changes back.
	r = run("undo")
	if r.Code != 0 {
		t.Fatalf("undo of the undo: %+v", r)
	}
	if got := snapshot(t, kc); got != changed {
		t.Errorf("after undo of the undo the cluster is not as the run left it:\n--- run\n%s\n--- now\n%s", changed, got)
	}
}

func TestUndoConflictE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	kc.Must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: \"1\"}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {v: \"1\"}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n", "apply", "-f", "-")
	state := t.TempDir()
	xdg := []string{"XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(), "K8SH_YES="}
	run := func(args ...string) result {
		return k8sh(t, "", xdg, append([]string{"--kubeconfig", env.Kubeconfig, "-n", env.Namespace}, args...)...)
	}
	before := snapshot(t, kc)
	r := run("-c", `
k8s.patch("configmap", "a", {"data": {"v": "2"}})
k8s.patch("configmap", "b", {"data": {"v": "2"}})
k8s.delete("secret", "s")
`)
	if r.Code != 0 {
		t.Fatalf("the run: %+v", r)
	}
	// The journal keeps no Secret's data.
	files, _ := filepath.Glob(filepath.Join(state, "k8sh", "journal", "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("journal files %q", files)
	}
	if data, _ := os.ReadFile(files[0]); strings.Contains(string(data), "aHVudGVyMg") || strings.Contains(string(data), "hunter2") {
		t.Errorf("the journal holds the Secret's data")
	}
	// Someone changes a since the run.
	kc.Must(t, "", "patch", "configmap", "a", "-p", `{"data":{"v":"3"}}`)

	r = run("undo")
	if r.Code != 1 ||
		!strings.Contains(r.Stderr, `configmap/a: not undone: changed since by "kubectl-patch" (Update at `) ||
		!strings.Contains(r.Stderr, "--force") ||
		!strings.Contains(r.Stderr, "secret/s: not undone: cannot restore a Secret's data") ||
		!strings.Contains(r.Stdout, "configmap/b restored") {
		t.Fatalf("undo with a conflict: %+v", r)
	}
	if v := kc.Must(t, "", "get", "configmap", "a", "-o", "jsonpath={.data.v}"); v != "3" {
		t.Errorf("the refused object changed: v=%s", v)
	}
	if v := kc.Must(t, "", "get", "configmap", "b", "-o", "jsonpath={.data.v}"); v != "1" {
		t.Errorf("b was not restored: v=%s", v)
	}
	if r := run("history"); !strings.Contains(r.Stdout, "partly (1/3)") {
		t.Errorf("history: %s", r.Stdout)
	}
	// --plan on what is left; then --force.
	id := strings.TrimSuffix(filepath.Base(files[0]), ".jsonl")
	r = run("undo", id, "--plan")
	if !strings.Contains(r.Stdout, "! refuse  configmap/a") || strings.Contains(r.Stdout, "configmap/b") {
		t.Errorf("undo --plan of what is left: %s", r.Stdout)
	}
	r = run("undo", id, "--force")
	if r.Code != 1 || !strings.Contains(r.Stdout, "configmap/a restored") || !strings.Contains(r.Stderr, "secret/s: not undone") {
		t.Fatalf("undo --force: %+v", r)
	}
	kc.Must(t, "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {password: hunter2}\n", "apply", "-f", "-")
	if got := snapshot(t, kc); got != before {
		t.Errorf("after undo --force (and the Secret made again by hand) the cluster is not as before:\n%s\n---\n%s", before, got)
	}
}

func TestREPLUndoE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	kc.Must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {v: \"1\"}\n", "apply", "-f", "-")
	state := t.TempDir()
	xdg := []string{"XDG_STATE_HOME=" + state, "XDG_CONFIG_HOME=" + t.TempDir(), "NO_COLOR=1"}
	tm := startREPL(t, xdg, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace)
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)
	send := func(line, want string) {
		t.Helper()
		tm.send(line + "\r")
		at = tm.expect(at, want)
		at = tm.expect(at, prompt)
	}
	send(`k8s.patch("configmap", "settings", {"data": {"v": "2"}})`, "configmap/settings patched")
	send(`k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}})`, "configmap/one created")
	send(`k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}})`, "configmap/two created")
	send(`k8s.undo()`, "configmap/two deleted")
	if out, _, code := kc.Run("", "get", "configmap", "two"); code == 0 {
		t.Fatalf("k8s.undo() left configmap two: %s", out)
	}
	kc.Must(t, "", "get", "configmap", "one")
	send(`[s.action for s in k8s.undo(2, plan=True)]`, `["delete", "restore"]`)
	send(`k8s.undo(2)`, "configmap/settings restored")
	if v := kc.Must(t, "", "get", "configmap", "settings", "-o", "jsonpath={.data.v}"); v != "1" {
		t.Errorf("settings v=%s after k8s.undo(2), want 1", v)
	}
	if _, _, code := kc.Run("", "get", "configmap", "one"); code == 0 {
		t.Error("k8s.undo(2) left configmap one")
	}
	send(`k8s.undo()`, "k8s.undo: nothing to undo")
	tm.send("\x04")
	<-tm.done

	r := k8sh(t, "", xdg, "history")
	if !regexp.MustCompile(`sandbox +3 +yes \(in the session\) +k8sh --kubeconfig`).MatchString(r.Stdout) {
		t.Errorf("history: %+v", r)
	}
}

func TestUndoProtectedE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	stateDir := t.TempDir()
	state := "XDG_STATE_HOME=" + stateDir
	base := []string{"--kubeconfig", env.Kubeconfig, "-n", env.Namespace}
	// A dry run changes nothing and leaves no journal: a delete says so in
	// its body, a create or patch in its query.
	kc.Must(t, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kept}\n", "apply", "-f", "-")
	if r := k8sh(t, "", []string{state, "K8SH_YES="}, append(base, "--dry-run", "-c", `k8s.delete("configmap", "kept"); k8s.patch("configmap", "kept", {"data": {"a": "b"}}); k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})`)...); r.Code != 0 {
		t.Fatalf("the dry run: %+v", r)
	}
	if files, _ := filepath.Glob(filepath.Join(stateDir, "k8sh", "journal", "*")); len(files) != 0 {
		t.Fatalf("a dry run left journal files %q", files)
	}
	if r := k8sh(t, "", []string{state, "K8SH_YES="}, append(base, "-c", `k8s.create({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "made"}})`)...); r.Code != 0 {
		t.Fatalf("the run: %+v", r)
	}
	ro := configHome(t, "read_only: [\"sand*\"]\n")
	r := k8sh(t, "", []string{state, ro}, append(base, "undo", "--yes")...)
	if r.Code != 1 || !strings.Contains(r.Stderr, `k8sh undo: context "sandbox" is read-only (read_only in the k8sh config): refusing to undo run `) {
		t.Errorf("undo in a read-only context: %+v", r)
	}
	prot := configHome(t, "protected: [\"sand*\"]\n")
	r = k8sh(t, "", []string{state, prot, "K8SH_YES="}, append(base, "undo")...)
	if r.Code != 1 || !strings.Contains(r.Stderr, `k8sh undo: context "sandbox" is protected: refusing to undo run `) || !strings.Contains(r.Stderr, "without --yes (or K8SH_YES=1)") {
		t.Errorf("undo in a protected context without --yes: %+v", r)
	}
	kc.Must(t, "", "get", "configmap", "made")
	r = k8sh(t, "", []string{state, prot, "K8SH_YES="}, append(base, "undo", "--yes")...)
	if r.Code != 0 || !strings.Contains(r.Stdout, "configmap/made deleted") {
		t.Errorf("undo --yes in a protected context: %+v", r)
	}
	if _, _, code := kc.Run("", "get", "configmap", "made"); code == 0 {
		t.Error("undo --yes left the configmap")
	}
}

// The journal's own reads are not in a --record cassette: a replay (which
// keeps no journal) would answer the script's reads with them.
func TestJournalNotRecordedE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	dir := t.TempDir()
	xdg := []string{"XDG_STATE_HOME=" + t.TempDir()}
	cassette := filepath.Join(dir, "c.yaml")
	src := `k8s.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "rec"}, "data": {"k": "1"}})
print(k8s.get("configmap", "rec").data["k"])`
	r := k8sh(t, "", xdg, "--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "--record", cassette, "-c", src)
	if r.Code != 0 || r.Stdout != "1\n" {
		t.Fatalf("recorded run: %+v", r)
	}
	data, _ := os.ReadFile(cassette)
	if n := strings.Count(string(data), "method: GET\n    url: /api/v1/namespaces/"+env.Namespace+"/configmaps/rec\n"); n != 0 {
		t.Errorf("the cassette holds %d GETs of the object, the journal's:\n%s", n, data)
	}
	r = k8sh(t, "", xdg, "--kubeconfig", filepath.Join(dir, "nowhere"), "--replay", cassette, "-c", src)
	if r.Code != 0 || r.Stdout != "1\n" {
		t.Errorf("replay: %+v", r)
	}
	if runs, _ := filepath.Glob(filepath.Join(strings.TrimPrefix(xdg[0], "XDG_STATE_HOME="), "k8sh", "journal", "*.jsonl")); len(runs) != 1 {
		t.Errorf("journal files %q: want the recorded run's only", runs)
	}
}

// TestUndoServiceAddressTakenE2E: a deleted Service whose cluster IP and
// node port another Service took since is created again with new ones,
// and undo says so.
func TestUndoServiceAddressTakenE2E(t *testing.T) {
	t.Parallel()
	env := kubetest.Sandbox(t)
	kc := env.Kubectl(t)
	kc.Must(t, "", "create", "service", "nodeport", "a", "--tcp=80:8080")
	ip := kc.Must(t, "", "get", "svc", "a", "-o", "jsonpath={.spec.clusterIP}")
	port := kc.Must(t, "", "get", "svc", "a", "-o", "jsonpath={.spec.ports[0].nodePort}")
	xdg := []string{"XDG_STATE_HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir(), "K8SH_YES="}
	run := func(args ...string) result {
		return k8sh(t, "", xdg, append([]string{"--kubeconfig", env.Kubeconfig, "-n", env.Namespace}, args...)...)
	}
	if r := run("-c", `k8s.delete("svc", "a")`); r.Code != 0 {
		t.Fatalf("the run: %+v", r)
	}
	kc.Must(t, "apiVersion: v1\nkind: Service\nmetadata: {name: b}\nspec: {type: NodePort, clusterIP: "+ip+", ports: [{port: 80, nodePort: "+port+"}]}\n", "apply", "-f", "-")
	r := run("undo")
	if r.Code != 0 || !strings.Contains(r.Stdout, "service/a created (with new cluster IPs and node ports: the old ones were taken since)") {
		t.Fatalf("undo: %+v", r)
	}
	if got := kc.Must(t, "", "get", "svc", "a", "-o", "jsonpath={.spec.clusterIP} {.spec.ports[0].port}/{.spec.ports[0].targetPort}"); strings.HasPrefix(got, ip+" ") || !strings.HasSuffix(got, " 80/8080") {
		t.Errorf("service a after undo: %s (the old IP was %s)", got, ip)
	}
}

package builtins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.starlark.net/starlark"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/yaml"
)

// manifestCase is one real install manifest of ../shared/manifests and how
// this sandbox takes it.
type manifestCase struct {
	file string
	// namespace is where objects without one go; "" for the file's own.
	namespace string
	// renames maps the file's namespaces to this test's.
	renames map[string]string
	// drop leaves out documents the sandbox cannot take, saying why.
	drop func(m map[string]any) bool
}

var writeBackManifests = []manifestCase{
	{file: "argocd-install.yaml", namespace: "w16-argocd"},
	{file: "prometheus-operator-bundle.yaml"},
	// Its two Jobs (ttlSecondsAfterFinished: 0) complete at once on kwok's
	// node and the TTL controller deletes them: every diff, kubectl's too,
	// shows them to be created again.
	{file: "ingress-nginx-cloud-deploy.yaml", drop: func(m map[string]any) bool { return m["kind"] == "Job" }},
	{file: "metallb-native.yaml"},
	{file: "istio-crd-all.yaml"},
	// Its own webhooks (failurePolicy Fail) cover its two custom resources
	// (an Image, a Certificate), and no webhook Pod runs in the sandbox:
	// creating them is refused with "connection refused", with kubectl as
	// with k8sh, as in a cluster whose webhook is down.
	{file: "knative-serving-core.yaml", drop: func(m map[string]any) bool {
		return strings.HasSuffix(m["apiVersion"].(string), ".knative.dev/v1alpha1") && (m["kind"] == "Image" || m["kind"] == "Certificate")
	}},
	// metrics-server's own Service and APIService would replace the
	// sandbox's (an ExternalName Service to the metrics-server process and
	// its APIService): the file goes to a namespace of its own, without the
	// APIService (v1beta1.metrics.k8s.io, a name the cluster has once).
	{file: "metrics-server-components.yaml", renames: map[string]string{"kube-system": "w16-metrics-server"},
		drop: func(m map[string]any) bool { return m["kind"] == "APIService" }},
}

// csaLimit is the largest object kubectl apply takes client-side: its
// last-applied annotation holds the whole object, and annotations are at
// most 256 KiB.
const csaLimit = 200 << 10

// TestManifestsWriteBackE2E, for each real install manifest, with kubectl
// as the oracle:
//   - `kubectl apply` (client-side; server-side for objects too large for
//     it), then k8s.diff of a changed file shows the change `kubectl diff`
//     shows, and lists no conflict;
//   - k8s.apply of the changed file then succeeds without force, and three
//     k8s.diff of it are empty;
//   - a read-mutate-write of an object with a field another manager owns
//     (kubectl label): the write succeeds, the other manager keeps its field.
func TestManifestsWriteBackE2E(t *testing.T) {
	dir := filepath.Join("..", "..", "shared", "manifests")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("no shared manifests: %v", err)
	}
	env := kubetest.Sandbox(t)
	// Two at a time: megabytes of CRDs applied and dry-run at once time
	// out in a kube-apiserver sharing two cores.
	sem := make(chan struct{}, 2)
	for _, mc := range writeBackManifests {
		t.Run(strings.TrimSuffix(mc.file, ".yaml"), func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			start := time.Now()
			writeBackManifest(t, env, filepath.Join(dir, mc.file), mc)
			t.Logf("%s in %v", mc.file, time.Since(start).Round(time.Millisecond))
		})
	}
}

func writeBackManifest(t *testing.T, env *kubetest.Env, path string, mc manifestCase) {
	start := time.Now()
	step := func(what string) {
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := yaml.DecodeDocuments(string(data))
	if err != nil {
		t.Fatal(err)
	}
	var objs []map[string]any
	for _, d := range docs {
		m, ok := d.(map[string]any)
		if !ok || (mc.drop != nil && mc.drop(m)) {
			continue
		}
		renameNamespaces(m, mc.renames)
		objs = append(objs, m)
	}
	ns := mc.namespace // "" for the file's own
	tmp := t.TempDir()
	file := func(name string, objs []map[string]any) string {
		var b strings.Builder
		for _, o := range objs {
			y, err := sigsyaml.Marshal(o)
			if err != nil {
				t.Fatal(err)
			}
			b.WriteString("---\n")
			b.Write(y)
		}
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	k := kubectlAt(t, env, ns)
	kc := func(args ...string) (string, string, int) { return k.Run("", args...) }
	mustKc := func(args ...string) string {
		t.Helper()
		out, errOut, code := kc(args...)
		if code != 0 {
			t.Fatalf("kubectl %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return out
	}
	all := file("all.yaml", objs)
	// What an earlier run left terminating (a CRD, a namespace) would vanish
	// under this one: delete it and wait until it is gone.
	mustKc("delete", "-f", all, "--ignore-not-found", "--wait=true", "--timeout=120s")
	// Namespaces the file does not make itself.
	for _, n := range []string{mc.namespace, mc.renames["kube-system"]} {
		if n != "" {
			mustKc("delete", "namespace", n, "--ignore-not-found", "--wait=true", "--timeout=120s")
			mustKc("create", "namespace", n)
		}
	}
	t.Cleanup(func() {
		kc("delete", "-f", all, "--ignore-not-found", "--wait=true", "--timeout=120s")
		for _, n := range []string{mc.namespace, mc.renames["kube-system"]} {
			if n != "" {
				kc("delete", "namespace", n, "--ignore-not-found", "--wait=true", "--timeout=120s")
			}
		}
	})

	// kubectl apply, client-side where it can.
	var small, large []map[string]any
	for _, o := range objs {
		js, _ := json.Marshal(o)
		if len(js) > csaLimit {
			large = append(large, o)
		} else {
			small = append(small, o)
		}
	}
	if len(large) > 0 {
		mustKc("apply", "--server-side", "-f", file("large.yaml", large))
	}
	// kubectl maps every object before it applies any: a custom resource
	// whose CRD is in the same file (knative's Image and Certificate) fails
	// the first time, as its users see; they apply again (and the new
	// resource may be served a moment after its CRD is established).
	smallFile := file("small.yaml", small)
	for try := 1; ; try++ {
		out, errOut, code := kc("apply", "-f", smallFile)
		if code == 0 {
			break
		}
		crdLate := strings.Contains(errOut, "ensure CRDs are installed first") ||
			strings.Contains(errOut, "the server could not find the requested resource")
		if try == 10 || !crdLate {
			t.Fatalf("kubectl apply -f: exit %d\n%s%s", code, out, errOut)
		}
		mustKc("wait", "--for", "condition=Established", "crd", "--all", "--timeout", "60s")
	}

	// The changed file: a label on each object kubectl applied client-side.
	changedSmall := make([]map[string]any, len(small))
	for i, o := range small {
		c := deepCopyJSON(t, o)
		md := c["metadata"].(map[string]any)
		labels, _ := md["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
			md["labels"] = labels
		}
		labels["w16-change"] = "yes"
		changedSmall[i] = c
	}
	step("kubectl apply")
	changed := file("changed-small.yaml", changedSmall)
	kubectlDiff, errOut, code := kc("diff", "-f", changed)
	if code != 1 || !strings.Contains(kubectlDiff, "w16-change") {
		t.Fatalf("kubectl diff: exit %d (want 1 and a diff)\n%s%s", code, kubectlDiff, errOut)
	}
	step("kubectl diff")
	changedAll := file("changed-all.yaml", append(large, changedSmall...))
	got := runStarWith(t, env, starlark.StringDict{
		"changed":     starlark.String(mustRead(t, changed)),
		"changed_all": starlark.String(mustRead(t, changedAll)),
	}, strings.ReplaceAll(`
text = k8s.diff(changed, namespace=NSX)
assert.true("\n# " not in text, text)  # kubectl's client-side fields: no conflict
print(text)
l = k8s.apply(changed_all, namespace=NSX)  # without force
assert.eq(len(l), len(yaml.decode_all(changed_all)))
for i in range(3):
    assert.eq(k8s.diff(changed_all, namespace=NSX), "")
`, "NSX", pyStr(ns)))
	if g, w := changedLines(got, false), changedLines(kubectlDiff, true); !slices.Equal(g, w) {
		t.Errorf("k8s.diff and kubectl diff change different lines:\nk8s.diff:\n%s\nkubectl diff:\n%s", strings.Join(g, "\n"), strings.Join(w, "\n"))
	}

	step("k8s.diff, k8s.apply, three k8s.diff")
	// Read, mutate, write back an object with a field another manager owns.
	target := small[0]
	for _, o := range small {
		if k := o["kind"]; k == "Deployment" || k == "DaemonSet" || k == "StatefulSet" {
			target = o
			break
		}
	}
	md := target["metadata"].(map[string]any)
	ref := kindRef(target) + "/" + md["name"].(string)
	tns, _ := md["namespace"].(string)
	if k := target["kind"]; tns == "" && (k == "Deployment" || k == "DaemonSet" || k == "StatefulSet") {
		tns = ns
	}
	kubectlAt(t, env, tns).Must(t, "", "label", ref, "w16-owner=kubectl")
	var targetChanged map[string]any
	for _, o := range changedSmall {
		if o["kind"] == target["kind"] && o["metadata"].(map[string]any)["name"] == md["name"] {
			targetChanged = o
		}
	}
	tc, _ := json.Marshal(targetChanged)
	runStarWith(t, env, starlark.StringDict{"target_changed": starlark.String(tc)}, strings.NewReplacer("REF", ref, "TNS", pyStr(tns), "NSX", pyStr(ns)).Replace(`
def note(o):
    o.metadata.annotations = dict(o.metadata.get("annotations", {}), **{"w16-note": "read-mutate-write"})
got = k8s.modify("REF", note, namespace=TNS)
assert.eq(got.metadata.annotations["w16-note"], "read-mutate-write")
assert.eq(got.metadata.labels["w16-owner"], "kubectl")
assert.true(owns(got, "kubectl-label", "Update", "metadata", "labels", "w16-owner"))
assert.true(owns(got, "k8sh", "Update", "metadata", "annotations", "w16-note"))
assert.true(not owns(got, "k8sh", "Update", "metadata", "labels", "w16-owner"))
# and a later apply of its manifest leaves both alone, without force
k8s.apply(target_changed, namespace=NSX)
after = k8s.get("REF", namespace=TNS)
assert.eq(after.metadata.labels["w16-owner"], "kubectl")
assert.eq(after.metadata.annotations["w16-note"], "read-mutate-write")
`))
}

// kindRef names o's kind as kubectl and k8sh take it: "deployment.v1.apps",
// or "service" for the core group.
func kindRef(o map[string]any) string {
	kind := strings.ToLower(o["kind"].(string))
	group, version, ok := strings.Cut(o["apiVersion"].(string), "/")
	if !ok {
		return kind
	}
	return kind + "." + version + "." + group
}

func pyStr(s string) string {
	if s == "" {
		return "None"
	}
	b, _ := json.Marshal(s)
	return string(b)
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func deepCopyJSON(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// renameNamespaces replaces every "namespace" value of v that renames maps
// (the objects' own, subjects', webhook and APIService services'), and the
// names of Namespace objects.
func renameNamespaces(v any, renames map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		if v["kind"] == "Namespace" {
			if md, ok := v["metadata"].(map[string]any); ok {
				if n, ok := renames[md["name"].(string)]; ok {
					md["name"] = n
				}
			}
		}
		for k, e := range v {
			if s, ok := e.(string); ok && k == "namespace" {
				if n, ok := renames[s]; ok {
					v[k] = n
				}
				continue
			}
			renameNamespaces(e, renames)
		}
	case []any:
		for _, e := range v {
			renameNamespaces(e, renames)
		}
	}
}

// changedLines are the removed and added lines of a unified diff, sorted.
// Of kubectl's (kubectl diff, client-side), the last-applied annotation's
// JSON is left out: k8sh's server-side apply has no such annotation.
func changedLines(diff string, kubectl bool) []string {
	var out []string
	for _, l := range strings.Split(diff, "\n") {
		if strings.HasPrefix(l, "+++ ") || strings.HasPrefix(l, "--- ") || (!strings.HasPrefix(l, "+") && !strings.HasPrefix(l, "-")) {
			continue
		}
		if kubectl && strings.HasPrefix(strings.TrimSpace(l[1:]), `{"apiVersion"`) {
			continue
		}
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

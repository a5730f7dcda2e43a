package builtins

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/k8sh/k8sh/kube/kubetest"
)

// escValue is cluster data that tries to drive the terminal: SGR colours,
// an OSC window title, and a line break.
const escValue = "\x1b[31mred\x1b[0m \x1b]0;pwned\x07title\nsecond line"

// seedColumns creates, in env's namespace, two Pods (Running), a
// Deployment, ConfigMaps (one holding escValue) and a CRD's objects.
func seedColumns(t *testing.T, env *kubetest.Env, k *kubetest.Kubectl) {
	t.Helper()
	ns := env.Namespace
	for _, p := range []struct{ name, images string }{{"web-0", "nginx:1.27,busybox:1.36"}, {"db-0", "postgres:17"}} {
		var containers []any
		for i, img := range strings.Split(p.images, ",") {
			containers = append(containers, map[string]any{"name": "c" + itoa(i), "image": img})
		}
		k.Create(t, map[string]any{"apiVersion": "v1", "kind": "Pod",
			"metadata": map[string]any{"name": p.name, "labels": map[string]any{"app": strings.TrimSuffix(p.name, "-0")}},
			"spec":     map[string]any{"containers": containers}})
	}
	k.Must(t, "", "wait", "--for=condition=Ready", "pod", "--all", "--timeout=60s")
	k.Create(t, map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "api"},
		"spec": map[string]any{"replicas": 2, "paused": true,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "api"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "api"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "api", "image": "api:2"}}}}}})
	k.Create(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "esc"}, "data": map[string]any{"x": escValue, "n": "1"}})
	k.Create(t, map[string]any{"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "plain", "annotations": map[string]any{"a.example.com/b": "dotted"}},
		"data":     map[string]any{"x": "plain value"}})

	group := "c15" + ns[len(ns)-5:] + ".k8sh.test"
	crdName := "gizmos." + group
	k.Create(t, map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": crdName},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "gizmos", "singular": "gizmo", "kind": "Gizmo"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
			}},
		},
	})
	t.Cleanup(func() { k.Run("", "delete", "crd", crdName, "--wait=false") })
	k.Must(t, "", "wait", "--for", "condition=Established", "crd/"+crdName, "--timeout", "60s")
	for _, g := range []map[string]any{
		{"name": "g1", "spec": map[string]any{"size": 12345678901234567, "ratio": 1.5, "on": true,
			"ports": []any{map[string]any{"name": "http", "port": 80}, map[string]any{"name": "alt", "port": 8080}},
			"title": escValue}},
		{"name": "g2", "spec": map[string]any{"size": 2}},
	} {
		k.Create(t, map[string]any{"apiVersion": group + "/v1", "kind": "Gizmo",
			"metadata": map[string]any{"name": g["name"]}, "spec": g["spec"]})
	}
}

// TestTemplateOutputsE2E: k8s.print's custom-columns, jsonpath and
// go-template outputs print what kubectl get -o prints for the same
// objects, byte for byte (k8s.print ends with a line break where kubectl
// does not), fail where kubectl fails with kubectl's message, and print no
// ESC byte from the cluster in custom-columns.
func TestTemplateOutputsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	k := env.Kubectl(t)
	seedColumns(t, env, k)
	c := e2eClient(t, env, "sandbox")
	dir := t.TempDir()
	ccFile := filepath.Join(dir, "columns.txt")
	jpFile := filepath.Join(dir, "names.jsonpath")
	gtFile := filepath.Join(dir, "names.tmpl")
	for name, text := range map[string]string{
		ccFile: "NAME          IMAGES\n.metadata.name   {.spec.containers[*].image}\n",
		jpFile: "{range .items[*]}{.metadata.name}{\"\\n\"}{end}",
		gtFile: "{{range .items}}{{.metadata.name}} {{end}}\n",
	} {
		if err := os.WriteFile(name, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	pods := `k8s.list("pods")`
	for _, tc := range []struct {
		star    string // the value k8s.print prints
		kubectl string // kubectl get's arguments for the same objects
		output  string
	}{
		// Lists: kubectl's printers see a List.
		{pods, "pods", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image,PHASE:.status.phase,NODE:.spec.nodeName"},
		{pods, "pods", "custom-columns=NAME:metadata.name,FIRST:{.spec.containers[0].name},MISSING:.spec.nope"},
		{pods, "pods", "custom-columns-file=" + ccFile},
		{pods, "pods", "jsonpath={.items[*].metadata.name}"},
		{pods, "pods", `jsonpath={range .items[*]}{.metadata.name}{"\t"}{.spec.containers[*].image}{"\n"}{end}`},
		{pods, "pods", "jsonpath={.kind} {.apiVersion} {.metadata}"},
		{pods, "pods", "jsonpath={.items[?(@.metadata.labels.app==\"db\")].metadata.name}"},
		{pods, "pods", "jsonpath-file=" + jpFile},
		{pods, "pods", "jsonpath-as-json={.items[*].spec.containers[*].image}"},
		{pods, "pods", "go-template={{range .items}}{{.metadata.name}}:{{len .spec.containers}} {{end}}"},
		{pods, "pods", "go-template-file=" + gtFile},
		{pods, "pods", "template={{(index .items 0).kind}}"},
		{`k8s.list("deployments")`, "deployments", "custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,PAUSED:.spec.paused,IMAGE:.spec.template.spec.containers[*].image"},
		{`k8s.list("deploy")`, "deploy", "jsonpath={.items[*].spec.replicas}"},
		{`k8s.list("configmaps")`, "configmaps", "custom-columns=NAME:.metadata.name,X:.data.x,N:.data.n"},
		{`k8s.list("configmaps")`, "configmaps", `custom-columns=NAME:.metadata.name,DOTTED:.metadata.annotations.a\.example\.com/b`},
		{`k8s.list("gizmos")`, "gizmos", "custom-columns=NAME:.metadata.name,SIZE:.spec.size,RATIO:.spec.ratio,ON:.spec.on,PORTS:.spec.ports[*].port,P:.spec.ports[0],TITLE:.spec.title"},
		{`k8s.list("gizmos")`, "gizmos", "jsonpath={.items[*].spec.size} {.items[0].spec.ports} {.items[*].spec.ratio}"},
		// Empty lists: the header alone, or nothing; no "No resources found".
		{`k8s.list("pods", selector="app=none")`, "pods -l app=none", "custom-columns=NAME:.metadata.name"},
		{`k8s.list("pods", selector="app=none")`, "pods -l app=none", "jsonpath={.items[*].metadata.name}"},
		{`k8s.list("pods", selector="app=none")`, "pods -l app=none", "jsonpath={.kind}"},
		// One object: the printers see it, managedFields included.
		{`k8s.get("pod", "web-0")`, "pod web-0", "custom-columns=NAME:.metadata.name,IMAGE:.spec.containers[*].image"},
		{`k8s.get("pod", "web-0")`, "pod web-0", "jsonpath={.metadata.name} {.spec.containers[*].image} {.metadata.managedFields[0].manager}"},
		{`k8s.get("pod", "web-0")`, "pod web-0", "jsonpath={.nope}{.metadata.nope.deeper}"},
		{`k8s.get("pod", "web-0")`, "pod web-0", "go-template={{.metadata.name}} {{.spec.nope}}"},
		{`k8s.get("deploy", "api")`, "deploy api", "jsonpath={.spec.replicas}/{.spec.paused}"},
		{`k8s.get("gizmo", "g1")`, "gizmo g1", "jsonpath={.spec}"},
		{`k8s.get("gizmo", "g1")`, "gizmo g1", "custom-columns=NAME:.metadata.name,PORTS:.spec.ports[*].name"},
		// jsonpath prints a string as it is, ESC and all, as kubectl does.
		{`k8s.get("cm", "esc")`, "cm esc", "jsonpath={.data.x}"},
	} {
		t.Run(tc.kubectl+" -o "+tc.output, func(t *testing.T) {
			src := "k8s.print(" + tc.star + ", output=" + starQuote(tc.output) + ")"
			got := runStar(t, c, src)
			want, errOut, code := k.Run("", append(append([]string{"get"}, strings.Fields(tc.kubectl)...), "-o", tc.output)...)
			if code != 0 {
				t.Fatalf("kubectl: exit %d\n%s", code, errOut)
			}
			if errOut != "" {
				t.Errorf("kubectl printed on stderr: %q", errOut)
			}
			if want != "" && !strings.HasSuffix(want, "\n") {
				want += "\n" // k8s.print ends its output with a line break
			}
			if got != want {
				t.Errorf("%s printed\n%q\nkubectl get %s -o %s printed\n%q", src, got, tc.kubectl, tc.output, want)
			}
			if strings.HasPrefix(tc.output, "custom-columns") && strings.Contains(got, "\x1b") {
				t.Errorf("an ESC byte reached stdout: %q", got)
			}
		})
	}

	// The escapes are in the table, made harmless, and the line break in
	// the value starts a line, as in kubectl's.
	got := runStar(t, c, `k8s.print(k8s.get("cm", "esc"), output="custom-columns=X:.data.x")`)
	if want := "X\n^[[31mred^[[0m ^[]0;pwned\x07title\nsecond line\n"; got != want {
		t.Errorf("custom-columns of ESC:\ngot  %q\nwant %q", got, want)
	}

	// Bad outputs and templates fail as kubectl fails, in its words.
	for _, tc := range []struct{ star, kubectl, output string }{
		{pods, "pods", "bogus"},
		{pods, "pods", "custom-columns"},
		{pods, "pods", "custom-columns=NAME"},
		{pods, "pods", "custom-columns=NAME:{{.x}}"},
		{pods, "pods", "custom-columns=NAME:.metadata.name[x"},
		{pods, "pods", "custom-columns-file=" + filepath.Join(dir, "none.txt")},
		{pods, "pods", "jsonpath="},
		{pods, "pods", "jsonpath={.items[*"},
		{pods, "pods", "go-template={{.items"},
		{`k8s.get("pod", "web-0")`, "pod web-0", "jsonpath={.metadata.name[0]}"},
		{`k8s.get("pod", "web-0")`, "pod web-0", "go-template={{.metadata.name.x}}"},
	} {
		t.Run("error "+tc.kubectl+" -o "+tc.output, func(t *testing.T) {
			src := `r = catch(k8s.print, ` + tc.star + `, output=` + starQuote(tc.output) + `)
assert.true(r.error)
print(r.error)`
			got := strings.TrimSuffix(runStar(t, c, src), "\n")
			_, errOut, code := k.Run("", append(append([]string{"get"}, strings.Fields(tc.kubectl)...), "-o", tc.output)...)
			if code != 1 {
				t.Fatalf("kubectl: exit %d, want 1\n%s", code, errOut)
			}
			msg, ok := strings.CutPrefix(got, "k8s.print: ")
			if !ok {
				t.Fatalf("error %q does not start with k8s.print:", got)
			}
			if strings.HasPrefix(tc.output, "custom-columns-file=") {
				// kubectl opens the file itself; k8sh reads it as file.read does.
				if !strings.Contains(errOut, "no such file or directory") || msg != "custom-columns-file: file.read: "+filepath.Join(dir, "none.txt")+": no such file or directory" {
					t.Errorf("k8sh: %q\nkubectl: %q", got, errOut)
				}
				return
			}
			if strings.HasPrefix(tc.output, "bogus") {
				// kubectl's list of formats, less the ones k8sh lacks, plus its "table".
				errOut = strings.Replace(strings.Replace(errOut, "kyaml,", "", 1), "name,", "name,table,", 1)
			}
			// A JSONPath error: kubectl's first line, without its dump of the object.
			first, _, _ := strings.Cut(errOut, ". Printing more information for debugging the template:")
			if "error: "+msg != strings.TrimSuffix(first, "\n") {
				t.Errorf("k8sh: %q\nkubectl: %q", got, errOut)
			}
		})
	}
}

// starQuote is s as a Starlark string literal.
func starQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

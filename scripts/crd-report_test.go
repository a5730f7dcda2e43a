package scripts

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/k8sh/k8sh/kube/kubetest"
)

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// createCRDs creates the CustomResourceDefinitions of a YAML stream, deletes
// them when t ends, and waits until each is established.
func createCRDs(t *testing.T, dyn dynamic.Interface, stream string) {
	t.Helper()
	ctx := context.Background()
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(stream, -1) {
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatal(err)
		}
		if m == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if _, err := dyn.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating CRD %s: %v", u.GetName(), err)
		}
		name := u.GetName()
		t.Cleanup(func() { dyn.Resource(crdGVR).Delete(context.Background(), name, metav1.DeleteOptions{}) })
		deadline := time.Now().Add(60 * time.Second)
		for {
			c, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				t.Fatal(err)
			}
			conds, _, _ := unstructured.NestedSlice(c.Object, "status", "conditions")
			established := false
			for _, x := range conds {
				if x, _ := x.(map[string]any); x["type"] == "Established" && x["status"] == "True" {
					established = true
				}
			}
			if established {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("CRD %s not established after 60s", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// createCR creates a custom resource from YAML (retrying while the new
// CRD's resource is not served yet) and, when status is not nil, sets its
// status through the status subresource.
func createCR(t *testing.T, dyn dynamic.Interface, gvr schema.GroupVersionResource, ns, doc string, status map[string]any) {
	t.Helper()
	ctx := context.Background()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(gvr)
	if ns != "" {
		ri = dyn.Resource(gvr).Namespace(ns)
	}
	var created *unstructured.Unstructured
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if created, err = ri.Create(ctx, &unstructured.Unstructured{Object: m}, metav1.CreateOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("creating %s: %v", gvr.Resource, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if status != nil {
		created.Object["status"] = status
		if _, err := ri.UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("setting the status of %s/%s: %v", gvr.Resource, created.GetName(), err)
		}
	}
}

// parseTable reads the table that starts at the line beginning with
// header[0] and ends at an empty line: one map per row, column name to
// cell. Columns are cut at the header's offsets (names may hold a space).
func parseTable(t *testing.T, out string, header ...string) []map[string]string {
	t.Helper()
	lines := strings.Split(out, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, header[0]+" ") {
			start = i
			break
		}
	}
	if start < 0 {
		t.Fatalf("no table with header %q in:\n%s", header, out)
	}
	var offs []int
	from := 0
	for _, h := range header {
		i := strings.Index(lines[start][from:], h)
		if i < 0 {
			t.Fatalf("header %q lacks column %q (want %q)", lines[start], h, header)
		}
		offs = append(offs, from+i)
		from += i + len(h)
	}
	if rest := strings.TrimSpace(lines[start][from:]); rest != "" {
		t.Fatalf("header %q has columns beyond %q: %q", lines[start], header, rest)
	}
	var rows []map[string]string
	for _, l := range lines[start+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		row := map[string]string{}
		for i, h := range header {
			end := len(l)
			if i+1 < len(offs) && offs[i+1] < end {
				end = offs[i+1]
			}
			if offs[i] < len(l) {
				row[h] = strings.TrimSpace(l[offs[i]:end])
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// byName indexes rows by their NAME (or NAMESPACE/NAME) cell.
func byName(rows []map[string]string) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, r := range rows {
		k := r["NAME"]
		if ns, ok := r["NAMESPACE"]; ok {
			k = ns + "/" + k
		}
		out[k] = r
	}
	return out
}

var ageRE = regexp.MustCompile(`^\d+[smhdy]`)

// sameAsServer checks that every column the server's table has (but AGE)
// holds the same cells in the report.
func sameAsServer(t *testing.T, report, server []map[string]string) {
	t.Helper()
	if len(report) != len(server) {
		t.Fatalf("the report has %d rows, the server's table %d", len(report), len(server))
	}
	rep, srv := byName(report), byName(server)
	for name, s := range srv {
		r, ok := rep[name]
		if !ok {
			t.Errorf("the report lacks %s", name)
			continue
		}
		for col, want := range s {
			if col == "AGE" {
				if !ageRE.MatchString(r[col]) {
					t.Errorf("%s: AGE %q is not an age", name, r[col])
				}
				continue
			}
			if r[col] != want {
				t.Errorf("%s: column %s is %q in the report, %q in the server's table", name, col, r[col], want)
			}
		}
	}
}

func TestScriptCRDReportE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	dyn := dynamic.NewForConfigOrDie(env.Config)
	ns, ns2 := env.Namespace, env.CreateNamespace(t)
	// CRDs are cluster-scoped: groups and a short name of this run only.
	suffix := strings.ReplaceAll(strings.TrimPrefix(ns, "t-"), "-", "")
	group := suffix + ".crdreport.k8sh.io"
	group2 := "two." + group
	short := "w" + ns[len(ns)-5:]

	run := func(wantCode int, args ...string) result {
		t.Helper()
		return k8shStatus(t, wantCode, append([]string{"--kubeconfig", env.Kubeconfig, "-n", ns}, args...)...)
	}

	t.Run("widgets", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join("testdata", "crd-report", "widgets.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		text := strings.NewReplacer("GROUP2", group2, "GROUP", group, "SHORT", short).Replace(string(data))
		createCRDs(t, dyn, text)

		widgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
		cond := func(typ, status, reason, message string) map[string]any {
			return map[string]any{"type": typ, "status": status, "reason": reason, "message": message,
				"lastTransitionTime": "2026-01-02T03:04:05Z"}
		}
		createCR(t, dyn, widgets, ns, `
apiVersion: `+group+`/v1
kind: Widget
metadata: {name: alpha, labels: {example.com/owner: team-a, team: blue}}
spec:
  size: 3
  color: blue
  ratio: 1.5
  enabled: true
  zones: [a, b]
  tags: [x, "y"]
  ports: [{name: http, port: 80}, {name: alt, port: 8080}]
  meta: {k: v}`,
			map[string]any{"conditions": []any{cond("Ready", "True", "Fine", ""), cond("Synced", "True", "", "")}})
		createCR(t, dyn, widgets, ns, `
apiVersion: `+group+`/v1
kind: Widget
metadata: {name: bravo}
spec: {size: big, ratio: 2, enabled: "yes", zones: []}`,
			map[string]any{"conditions": []any{
				cond("Ready", "False", "BadSize", "size must be a number"),
				cond("Synced", "True", "", ""),
				cond("Stalled", "True", "", "gave up   after trying this and that\nfor a long while, then some more, and more"),
			}})
		createCR(t, dyn, widgets, ns, `
apiVersion: `+group+`/v1
kind: Widget
metadata: {name: charlie}
spec: {}`, nil)
		createCR(t, dyn, widgets, ns2, `
apiVersion: `+group+`/v1
kind: Widget
metadata: {name: delta}
spec: {size: 7}`,
			map[string]any{"conditions": []any{cond("Ready", "Unknown", "Pending", "")}})
		createCR(t, dyn, schema.GroupVersionResource{Group: group, Version: "v1", Resource: "gadgets"}, "", `
apiVersion: `+group+`/v1
kind: Gadget
metadata: {name: gadget-`+suffix+`}`,
			map[string]any{"conditions": []any{cond("Ready", "True", "", "")}})
		createCR(t, dyn, schema.GroupVersionResource{Group: group2, Version: "v1", Resource: "widgets"}, "", `
apiVersion: `+group2+`/v1
kind: Widget
metadata: {name: widget-`+suffix+`}
spec: {size: 9}`, nil)

		cols := []string{"NAME", "SIZE", "COLOR", "RATIO", "ENABLED", "READY", "FIRST ZONE", "TAGS", "OWNER", "TEAM", "AGE", "CONDITIONS"}
		r := run(0, "crd-report.star", "widgets."+group)
		if want := "Widget (" + group + "/v1, namespaced): 3 in namespace " + ns + "\n"; !strings.HasPrefix(r.Stdout, want) {
			t.Errorf("first line: want %q, got:\n%s", want, r.Stdout)
		}
		rows := parseTable(t, r.Stdout, cols...)
		want := []map[string]string{
			{"NAME": "alpha", "SIZE": "3", "COLOR": "blue", "RATIO": "1.5", "ENABLED": "true", "READY": "True",
				"FIRST ZONE": "a", "TAGS": `["x","y"]`, "OWNER": "team-a", "TEAM": "blue", "CONDITIONS": "Ready=True, Synced=True"},
			{"NAME": "bravo", "SIZE": "", "COLOR": "", "RATIO": "2", "ENABLED": "", "READY": "False",
				"FIRST ZONE": "", "TAGS": "", "OWNER": "", "TEAM": "",
				"CONDITIONS": "Ready=False: BadSize, Synced=True, Stalled=True: gave up after trying this and that for a long while, then..."},
			{"NAME": "charlie", "SIZE": "", "COLOR": "", "RATIO": "", "ENABLED": "", "READY": "",
				"FIRST ZONE": "", "TAGS": "", "OWNER": "", "TEAM": "", "CONDITIONS": "<none>"},
		}
		for _, row := range rows {
			if !ageRE.MatchString(row["AGE"]) {
				t.Errorf("%s: AGE %q is not an age", row["NAME"], row["AGE"])
			}
			delete(row, "AGE")
		}
		if !reflect.DeepEqual(rows, want) {
			t.Errorf("report rows:\n got %v\nwant %v\noutput:\n%s", rows, want, r.Stdout)
		}
		counts := parseTable(t, r.Stdout, "CONDITION", "TRUE", "FALSE", "UNKNOWN", "ABSENT")
		wantCounts := []map[string]string{
			{"CONDITION": "Ready", "TRUE": "1", "FALSE": "1", "UNKNOWN": "0", "ABSENT": "1"},
			{"CONDITION": "Synced", "TRUE": "2", "FALSE": "0", "UNKNOWN": "0", "ABSENT": "1"},
			{"CONDITION": "Stalled", "TRUE": "1", "FALSE": "0", "UNKNOWN": "0", "ABSENT": "2"},
		}
		if !reflect.DeepEqual(counts, wantCounts) {
			t.Errorf("condition counts:\n got %v\nwant %v", counts, wantCounts)
		}

		// Every printer column, the wide ones too, evaluates as the API
		// server evaluates it for kubectl (k8s.print shows the server's
		// table), the bracket and escaped-dot forms included.
		wide := []string{"NAME", "SIZE", "COLOR", "RATIO", "ENABLED", "READY", "REASON", "FIRST ZONE", "LAST ZONE",
			"TAGS", "OWNER", "TEAM", "DOTTED", "AGE", "ZONES", "ZONE SLICE", "PORT NAMES", "BIG PORT", "HTTP PORT",
			"NOT TRUE", "HAS MESSAGE", "META", "META ANY", "SINCE"}
		r = run(0, "crd-report.star", "widgets."+group, "--wide")
		srv := run(0, "-c", `k8s.print(k8s.list("widgets.v1.`+group+`"), output="wide")`)
		sameAsServer(t, parseTable(t, r.Stdout, append(wide, "CONDITIONS")...), parseTable(t, srv.Stdout, wide...))
		rep := byName(parseTable(t, r.Stdout, append(wide, "CONDITIONS")...))
		for _, c := range []struct{ name, col, want string }{
			{"alpha", "LAST ZONE", "b"}, {"alpha", "DOTTED", ""}, {"alpha", "ZONES", "a"},
			{"alpha", "ZONE SLICE", "b"}, {"alpha", "PORT NAMES", "http"}, {"alpha", "BIG PORT", "8080"},
			{"alpha", "HTTP PORT", "80"}, {"alpha", "NOT TRUE", ""}, {"alpha", "META", `{"k":"v"}`},
			{"alpha", "META ANY", "v"}, {"bravo", "REASON", "BadSize"}, {"bravo", "NOT TRUE", "Ready"},
			{"bravo", "HAS MESSAGE", "Ready"}, {"bravo", "ZONES", ""},
		} {
			if rep[c.name][c.col] != c.want {
				t.Errorf("--wide: %s's %s is %q, want %q", c.name, c.col, rep[c.name][c.col], c.want)
			}
		}
		if !ageRE.MatchString(rep["alpha"]["SINCE"]) || !strings.HasSuffix(rep["alpha"]["SINCE"], "d") {
			t.Errorf("--wide: alpha's SINCE %q is not an age in days", rep["alpha"]["SINCE"])
		}

		// All namespaces, by short name, and by kind: the NAMESPACE column
		// and the other namespace's widget.
		for _, kind := range []string{short, "widget." + group, "Widget." + group} {
			r = run(0, "crd-report.star", kind, "-A")
			rows := byName(parseTable(t, r.Stdout, append([]string{"NAMESPACE"}, cols...)...))
			if len(rows) != 4 || rows[ns2+"/delta"]["SIZE"] != "7" || rows[ns2+"/delta"]["CONDITIONS"] != "Ready=Unknown: Pending" ||
				rows[ns+"/alpha"]["COLOR"] != "blue" {
				t.Errorf("%s -A: rows %v", kind, rows)
			}
			counts := parseTable(t, r.Stdout, "CONDITION", "TRUE", "FALSE", "UNKNOWN", "ABSENT")
			if counts[0]["CONDITION"] != "Ready" || counts[0]["TRUE"] != "1" || counts[0]["FALSE"] != "1" ||
				counts[0]["UNKNOWN"] != "1" || counts[0]["ABSENT"] != "1" {
				t.Errorf("%s -A: Ready counts %v", kind, counts[0])
			}
		}

		// A selector; a selector matching nothing.
		r = run(0, "crd-report.star", "widgets."+group, "-l", "team=blue")
		if rows := parseTable(t, r.Stdout, cols...); len(rows) != 1 || rows[0]["NAME"] != "alpha" {
			t.Errorf("-l team=blue: rows %v", rows)
		}
		r = run(0, "crd-report.star", "widgets."+group, "-l", "team=none")
		if want := "Widget (" + group + "/v1, namespaced): 0 in namespace " + ns + " matching team=none\n"; r.Stdout != want {
			t.Errorf("no match: got %q, want %q", r.Stdout, want)
		}

		// A version named: its own columns.
		r = run(0, "crd-report.star", "widgets.v1alpha1."+group)
		rows = parseTable(t, r.Stdout, "NAME", "LEGACY SIZE", "CONDITIONS")
		if len(rows) != 3 || rows[0]["LEGACY SIZE"] != "3" || !strings.HasPrefix(r.Stdout, "Widget ("+group+"/v1alpha1,") {
			t.Errorf("v1alpha1: rows %v\n%s", rows, r.Stdout)
		}

		// Cluster-scoped: no NAMESPACE, even with -A; without printer
		// columns, NAME and AGE as kubectl shows.
		r = run(0, "crd-report.star", "gadgets."+group, "-A")
		rows = parseTable(t, r.Stdout, "NAME", "AGE", "CONDITIONS")
		if !strings.HasPrefix(r.Stdout, "Gadget ("+group+"/v1, cluster-scoped): 1 in the cluster\n") ||
			len(rows) != 1 || rows[0]["NAME"] != "gadget-"+suffix || rows[0]["CONDITIONS"] != "Ready=True" {
			t.Errorf("gadgets: rows %v\n%s", rows, r.Stdout)
		}
		r = run(0, "crd-report.star", "widgets."+group2)
		rows = parseTable(t, r.Stdout, "NAME", "SIZE", "CONDITIONS")
		if len(rows) != 1 || rows[0]["SIZE"] != "9" || rows[0]["CONDITIONS"] != "<none>" ||
			!strings.Contains(r.Stdout, "\nno object has status conditions\n") {
			t.Errorf("widgets of %s: rows %v\n%s", group2, rows, r.Stdout)
		}

		// Two groups define widgets: the bare name is ambiguous and says
		// which there are. Unknown kinds and bad arguments fail.
		for _, tc := range []struct {
			args []string
			want []string
		}{
			{[]string{"widgets"}, []string{"is ambiguous", "widgets." + group, "widgets." + group2}},
			{[]string{"nosuchthings"}, []string{`no CustomResourceDefinition defines "nosuchthings"`}},
			{[]string{"widgets.v9." + group}, []string{`no CustomResourceDefinition defines`}},
			{nil, []string{"usage: crd-report.star"}},
			{[]string{"widgets." + group, "--bogus"}, []string{"usage: crd-report.star"}},
			{[]string{"widgets." + group, "gadgets." + group}, []string{"usage: crd-report.star"}},
		} {
			code := 1 // an error, or 2 for a usage error
			if strings.HasPrefix(tc.want[0], "usage:") {
				code = 2
			}
			r := run(code, append([]string{"crd-report.star"}, tc.args...)...)
			for _, w := range tc.want {
				if !strings.Contains(r.Stderr, w) {
					t.Errorf("args %q: stderr %q, want it to contain %q", tc.args, r.Stderr, w)
				}
			}
		}
		// The read-only context may not read CRDs: it says so.
		r = run(1, "--context", "sandbox-viewer", "crd-report.star", "widgets."+group)
		if !strings.Contains(r.Stderr, "this report reads the CustomResourceDefinitions, and cannot") || !strings.Contains(r.Stderr, "forbidden") {
			t.Errorf("as a viewer: stderr %q", r.Stderr)
		}
	})

	// Argo CD's real CRDs (their group renamed to one of this run's, so as
	// not to meet another test's or a real install's): Applications have
	// printer columns on nested status fields and conditions without a
	// status.
	t.Run("argocd", func(t *testing.T) {
		root, err := kubetest.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(root, "..", "shared", "manifests", "argocd-install.yaml"))
		if os.IsNotExist(err) {
			t.Skip("no ../shared/manifests/argocd-install.yaml")
		}
		if err != nil {
			t.Fatal(err)
		}
		argo := "argo" + ns[len(ns)-5:] + ".k8sh.io" // short: it ends up in a label value too
		var crds []string
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
			if regexp.MustCompile(`(?m)^kind: CustomResourceDefinition$`).MatchString(doc) {
				crds = append(crds, strings.ReplaceAll(doc, "argoproj.io", argo))
			}
		}
		if len(crds) != 3 {
			t.Fatalf("found %d CRDs in argocd-install.yaml, want 3", len(crds))
		}
		createCRDs(t, dyn, strings.Join(crds, "\n---\n"))

		apps := schema.GroupVersionResource{Group: argo, Version: "v1alpha1", Resource: "applications"}
		app := func(name, sync, health, revision string, conds string) {
			createCR(t, dyn, apps, ns, `
apiVersion: `+argo+`/v1alpha1
kind: Application
metadata: {name: `+name+`}
spec:
  project: default
  destination: {server: "https://kubernetes.default.svc", namespace: `+name+`}
  source: {repoURL: "https://example.com/`+name+`.git", path: deploy, targetRevision: HEAD}
status:
  sync: {status: `+sync+`, revision: "`+revision+`"}
  health: {status: `+health+`}
  conditions: `+conds, nil)
		}
		app("shop", "Synced", "Healthy", "4f2a9c1", "[]")
		app("billing", "OutOfSync", "Degraded", "77be0d3",
			`[{type: ComparisonError, message: "rpc error: repository not accessible", lastTransitionTime: "2026-01-02T03:04:05Z"},`+
				` {type: SyncError, message: "one or more objects failed to apply"}]`)
		app("fresh", "Unknown", "Missing", "", "[]")

		cols := []string{"NAME", "SYNC STATUS", "HEALTH STATUS", "REVISION", "PROJECT"}
		r := run(0, "crd-report.star", "applications."+argo, "--wide")
		srv := run(0, "-c", `k8s.print(k8s.list("applications.v1alpha1.`+argo+`"), output="wide")`)
		report := parseTable(t, r.Stdout, append(cols, "CONDITIONS")...)
		sameAsServer(t, report, parseTable(t, srv.Stdout, cols...))
		rows := byName(report)
		if rows["billing"]["SYNC STATUS"] != "OutOfSync" || rows["billing"]["HEALTH STATUS"] != "Degraded" ||
			rows["billing"]["REVISION"] != "77be0d3" || rows["billing"]["PROJECT"] != "default" ||
			rows["billing"]["CONDITIONS"] != "ComparisonError: rpc error: repository not accessible, SyncError: one or more objects failed to apply" ||
			rows["shop"]["CONDITIONS"] != "<none>" || rows["fresh"]["REVISION"] != "" && rows["fresh"]["REVISION"] != "<none>" {
			t.Errorf("applications: rows %v\n%s", rows, r.Stdout)
		}
		counts := parseTable(t, r.Stdout, "CONDITION", "TRUE", "FALSE", "UNKNOWN", "OTHER", "ABSENT")
		want := []map[string]string{
			{"CONDITION": "ComparisonError", "TRUE": "0", "FALSE": "0", "UNKNOWN": "0", "OTHER": "1", "ABSENT": "2"},
			{"CONDITION": "SyncError", "TRUE": "0", "FALSE": "0", "UNKNOWN": "0", "OTHER": "1", "ABSENT": "2"},
		}
		if !reflect.DeepEqual(counts, want) {
			t.Errorf("condition counts:\n got %v\nwant %v", counts, want)
		}
		// Without --wide, the priority-10 columns are left out.
		r = run(0, "crd-report.star", "applications."+argo)
		parseTable(t, r.Stdout, "NAME", "SYNC STATUS", "HEALTH STATUS", "CONDITIONS")
	})
}

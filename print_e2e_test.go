package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/k8sh/k8sh/internal/clitest"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// printSeed is a namespace's worth of objects of many kinds, as kubectl
// applies them; with the seedEscapes CRD (printer columns, a priority-1
// column) and its Event.
const printSeed = `
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-b, labels: {app: web, tier: front}}
data: {a: "1", b: "2"}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm-a, labels: {app: db}}
data: {big: "12345678901234567"}
---
apiVersion: v1
kind: Secret
metadata: {name: s1}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec: {type: ExternalName, externalName: 127.0.0.1}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}, {name: side, image: busybox}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  replicas: 1
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: postgres:16}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: once}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: once, image: busybox}]
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers: [{name: nightly, image: busybox}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader}
rules: [{apiGroups: [""], resources: [pods], verbs: [get, list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-reads}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
subjects: [{kind: ServiceAccount, name: robot}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 1, selector: {matchLabels: {app: web}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
  metrics: [{type: Resource, resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec:
  rules: [{host: web.example, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
---
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec: {limits: [{type: Container, default: {cpu: 500m}}]}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec: {hard: {pods: "20"}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {name: leader}
spec: {holderIdentity: me, leaseDurationSeconds: 15}
---
apiVersion: v1
kind: PodTemplate
metadata: {name: tmpl}
template:
  spec:
    containers: [{name: t, image: busybox}]
`

// TestPrintLikeKubectlE2E compares k8s.print with kubectl get byte for byte,
// for every listable kind the sandbox serves (its CRD's printer columns
// included), in every output mode k8sh has: a namespace's table, wide, name,
// yaml and json; all namespaces; one object; several kinds and the "all"
// category; sorting, labels and no headers; and an empty result, whose
// "No resources found" goes to stderr. A comparison is made again (up to
// three times) when it differs, since an AGE may tick over or a controller
// or another test may change a cluster-wide kind in between.
func TestPrintLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	group := "prt" + ns[len(ns)-5:] + ".k8sh.test"
	seedEscapes(t, env, kubectl, group)
	seedGauges(t, kubectl, ns, group)
	mustKubectl(t, kubectl, printSeed, "apply", "-n", ns, "-f", "-")
	// Let the controllers make the Deployment's pods and settle.
	mustKubectl(t, kubectl, "", "-n", ns, "rollout", "status", "deploy/web", "--timeout", "60s")
	empty := env.CreateNamespace(t)

	type check struct {
		name, star string
		kubectl    []string
		stderr     bool // compare stderr too
	}
	var checks []check
	add := func(star string, stderr bool, args ...string) {
		checks = append(checks, check{strings.Join(args, " "), star, args, stderr})
	}
	// The kinds the sandbox serves itself, and this test's CRDs: not the
	// CRDs that tests of other packages make and delete meanwhile.
	// componentstatuses is left out: its server lists them in a random
	// order, kubectl's as well as k8sh's.
	names := func(namespaced bool) []string {
		out := mustKubectl(t, kubectl, "", "api-resources", "--verbs=list", fmt.Sprintf("--namespaced=%t", namespaced), "-o", "name")
		var kinds []string
		for _, k := range strings.Fields(out) {
			_, g, _ := strings.Cut(k, ".")
			if k != "componentstatuses" && (g == "" || !strings.Contains(g, ".") || strings.HasSuffix(g, ".k8s.io") || strings.HasSuffix(g, group)) {
				kinds = append(kinds, k)
			}
		}
		return kinds
	}
	modes := []struct{ output, flag string }{{"table", ""}, {"wide", "wide"}, {"name", "name"}, {"yaml", "yaml"}, {"json", "json"},
		{"custom-columns=NAME:.metadata.name,NAMESPACE:.metadata.namespace,LABELS:.metadata.labels", "custom-columns=NAME:.metadata.name,NAMESPACE:.metadata.namespace,LABELS:.metadata.labels"},
		{`jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid}{"\n"}{end}`, `jsonpath={range .items[*]}{.kind}/{.metadata.name} {.metadata.uid}{"\n"}{end}`}}
	for _, kind := range names(true) {
		for _, m := range modes {
			args := []string{"get", kind, "-n", ns}
			if m.flag != "" {
				args = append(args, "-o", m.flag)
			}
			add(fmt.Sprintf(`k8s.print(k8s.list(%q, namespace=%q), output=%q)`, kind, ns, m.output), false, args...)
		}
		// All namespaces: the NAMESPACE column always, even when the rows
		// are of one namespace.
		add(fmt.Sprintf(`k8s.print(k8s.list(%q, all_namespaces=True, fields="metadata.namespace=%s"))`, kind, ns), false,
			"get", kind, "-A", "--field-selector", "metadata.namespace="+ns)
	}
	for _, kind := range names(false) {
		for _, m := range modes[:3] {
			args := []string{"get", kind}
			if m.flag != "" {
				args = append(args, "-o", m.flag)
			}
			add(fmt.Sprintf(`k8s.print(k8s.list(%q), output=%q)`, kind, m.output), false, args...)
		}
	}
	n := func(s string) string { return fmt.Sprintf(`, namespace=%q`, s) }
	// One object, several kinds, a category.
	add(`k8s.print(k8s.get("deploy", "web"`+n(ns)+`))`, false, "get", "deploy", "web", "-n", ns)
	add(`k8s.print(k8s.get("deploy", "web"`+n(ns)+`), output="wide")`, false, "get", "deploy", "web", "-n", ns, "-o", "wide")
	add(`k8s.print(k8s.get("cm/cm-a"`+n(ns)+`), output="name")`, false, "get", "cm/cm-a", "-n", ns, "-o", "name")
	add(`k8s.print(k8s.list("deploy,svc,cm"`+n(ns)+`))`, false, "get", "deploy,svc,cm", "-n", ns)
	add(`k8s.print(k8s.list("deploy,svc,cm"`+n(ns)+`), output="name")`, false, "get", "deploy,svc,cm", "-n", ns, "-o", "name")
	add(`k8s.print(k8s.list("all"`+n(ns)+`))`, false, "get", "all", "-n", ns)
	add(`k8s.print(k8s.list("all"`+n(ns)+`), output="wide")`, false, "get", "all", "-n", ns, "-o", "wide")
	add(`k8s.print(k8s.list("cm,secrets"`+n(ns)+`), output="yaml")`, false, "get", "cm,secrets", "-n", ns, "-o", "yaml")
	// Sorting, labels, no headers.
	add(`k8s.print(k8s.list("cm"`+n(ns)+`), sort_by=".metadata.name")`, false, "get", "cm", "-n", ns, "--sort-by", ".metadata.name")
	add(`k8s.print(k8s.list("pods"`+n(ns)+`), sort_by="{.metadata.creationTimestamp}")`, false, "get", "pods", "-n", ns, "--sort-by", "{.metadata.creationTimestamp}")
	add(`k8s.print(k8s.list("cm"`+n(ns)+`), sort_by=".data.a")`, false, "get", "cm", "-n", ns, "--sort-by", ".data.a")
	add(`k8s.print(k8s.list("cm"`+n(ns)+`), show_labels=True)`, false, "get", "cm", "-n", ns, "--show-labels")
	add(`k8s.print(k8s.list("cm,svc"`+n(ns)+`), label_columns=["app", "tier"])`, false, "get", "cm,svc", "-n", ns, "-L", "app,tier")
	add(`k8s.print(k8s.list("cm,svc"`+n(ns)+`), no_headers=True)`, false, "get", "cm,svc", "-n", ns, "--no-headers")
	add(`k8s.print(k8s.list("cm"`+n(ns)+`), output="wide", no_headers=True, show_labels=True)`, false, "get", "cm", "-n", ns, "-o", "wide", "--no-headers", "--show-labels")
	// Nothing found: nothing on stdout, kubectl's line on stderr.
	add(`k8s.print(k8s.list("pods"`+n(empty)+`))`, true, "get", "pods", "-n", empty)
	add(`k8s.print(k8s.list("pods,svc"`+n(empty)+`))`, true, "get", "pods,svc", "-n", empty)
	add(`k8s.print(k8s.list("pods"`+n(empty)+`), output="name")`, true, "get", "pods", "-n", empty, "-o", "name")
	add(`k8s.print(k8s.list("pods"`+n(empty)+`), output="yaml")`, true, "get", "pods", "-n", empty, "-o", "yaml")
	add(`k8s.print(k8s.list("pods", all_namespaces=True, selector="none=here"))`, true, "get", "pods", "-A", "-l", "none=here")
	add(`k8s.print(k8s.list("runtimeclasses", selector="none=here"))`, true, "get", "runtimeclasses", "-l", "none=here")

	// First all of them in one k8sh run, each after a marker line; a
	// check whose output differs from kubectl's, or that failed, is run
	// again on its own.
	var script strings.Builder
	for i, c := range checks {
		if !c.stderr {
			fmt.Fprintf(&script, "print(%q)\nr = catch(lambda: %s)\nif r.error: print(%q)\n", marker(i), c.star, "\x00failed")
		}
	}
	batch := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", script.String())
	chunks := map[int]string{}
	for i, c := range checks {
		if c.stderr {
			continue
		}
		_, after, ok := strings.Cut(batch.Stdout, marker(i)+"\n")
		if !ok {
			continue
		}
		if j := strings.Index(after, "\x00check "); j >= 0 {
			after = after[:j]
		}
		if !strings.Contains(after, "\x00failed") {
			chunks[i] = after
		}
	}
	// kubectl's outputs for the batch, four at a time.
	first := make([]string, len(checks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i, c := range checks {
		if _, ok := chunks[i]; !ok {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if out, _, err := kubectl(t, "", c.kubectl...); err == nil {
				first[i] = out
			}
		}()
	}
	wg.Wait()
	for i, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if chunk, ok := chunks[i]; ok && chunk == first[i] {
				return
			}
			// kubectl before and after k8sh: with an AGE ticking over in
			// between, k8sh matches one of them.
			var got, want [2]string
			for try := 0; try < 3; try++ {
				if try > 0 {
					time.Sleep(time.Second)
				}
				out1, err1, kerr := kubectl(t, "", c.kubectl...)
				r := k8sh(t, "", nil, "--kubeconfig", env.Kubeconfig, "-c", c.star)
				out2, err2, _ := kubectl(t, "", c.kubectl...)
				if kerr != nil {
					// A request kubectl's server refuses (a field selector a
					// kind lacks) fails in k8sh as well, with the reason.
					msg := err1[strings.LastIndex(err1, ": ")+2:]
					if r.Code != 1 || !strings.Contains(r.Stderr, strings.TrimSpace(msg)) {
						t.Errorf("kubectl %s failed: %s\nk8sh exit %d: %s", c.name, err1, r.Code, r.Stderr)
					}
					return
				}
				if r.Code != 0 {
					t.Fatalf("k8sh -c %s: exit %d\n%s", c.star, r.Code, r.Stderr)
				}
				got = [2]string{r.Stdout, ""}
				if c.stderr {
					got[1] = r.Stderr
				}
				for _, w := range [][2]string{{out1, err1}, {out2, err2}} {
					if !c.stderr {
						w[1] = ""
					}
					if want = w; got == want {
						return
					}
				}
			}
			t.Errorf("k8sh -c %s:\nstdout %q\nstderr %q\nkubectl %s:\nstdout %q\nstderr %q", c.star, got[0], got[1], c.name, want[0], want[1])
		})
	}
}

func marker(i int) string { return fmt.Sprintf("\x00check %d", i) }

// TestPrintWatchLikeKubectlE2E: k8s.print of a k8s.watch prints what
// kubectl get -w prints, watching the same namespace at the same time: the
// objects that exist as one table under one header, then a row for each
// change (a creation, a label, a deletion), in the first table's widths.
func TestPrintWatchLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	mustKubectl(t, kubectl, "", "-n", ns, "create", "configmap", "a", "--from-literal=x=1")
	var got, want string
	for try := 0; try < 2; try++ {
		dir := t.TempDir()
		kout, sout := filepath.Join(dir, "kubectl"), filepath.Join(dir, "k8sh")
		start := func(out, bin string, args ...string) *exec.Cmd {
			f, err := os.Create(out)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			cmd := exec.Command(bin, args...)
			cmd.Stdout, cmd.Stderr = f, f
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			return cmd
		}
		kbin := filepath.Join(filepath.Dir(env.Kubeconfig), "bin", "kubectl")
		kw := start(kout, kbin, "--kubeconfig", env.Kubeconfig, "-n", ns, "get", "cm", "-w")
		sw := start(sout, clitest.Bin, "--kubeconfig", env.Kubeconfig, "-c",
			fmt.Sprintf(`k8s.print(k8s.watch("cm", namespace=%q, timeout="8s"))`, ns))
		// Both have printed the objects that exist before anything changes.
		deadline := time.Now().Add(5 * time.Second)
		for {
			k, _ := os.ReadFile(kout)
			s, _ := os.ReadFile(sout)
			if strings.Count(string(k), "\n") >= 3 && strings.Count(string(s), "\n") >= 3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the watches printed no table:\nkubectl %q\nk8sh %q", k, s)
			}
			time.Sleep(50 * time.Millisecond)
		}
		name := fmt.Sprintf("a-much-longer-name-than-the-others-%d", try)
		mustKubectl(t, kubectl, "", "-n", ns, "create", "configmap", name, "--from-literal=y=2")
		mustKubectl(t, kubectl, "", "-n", ns, "label", "configmap", name, "z=3")
		mustKubectl(t, kubectl, "", "-n", ns, "delete", "configmap", name)
		if err := sw.Wait(); err != nil {
			t.Fatalf("k8sh: %v", err)
		}
		kw.Process.Kill()
		kw.Wait()
		k, _ := os.ReadFile(kout)
		s, _ := os.ReadFile(sout)
		got, want = string(s), string(k)
		if got == want {
			return
		}
	}
	t.Errorf("k8s.print(k8s.watch(...)):\n%s\nkubectl get -w:\n%s", got, want)
}

// TestPrintWhatWasReadE2E: k8s.print shows the rows as they were read, from
// the cluster they were read from: a Deployment listed before a scale keeps
// its READY, a ConfigMap deleted since keeps its row, a list read with
// context= prints although the session's own context cannot read at all,
// and a user who may get but not list gets the kind's columns. Each is
// compared with what kubectl printed when the objects were read.
func TestPrintWhatWasReadE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := sandboxKubectl(t, env)
	ns := env.Namespace
	mustKubectl(t, kubectl, printSeed, "apply", "-n", ns, "-f", "-")
	mustKubectl(t, kubectl, "", "-n", ns, "rollout", "status", "deploy/web", "--timeout", "60s")
	run := func(t *testing.T, star string, args ...string) string {
		t.Helper()
		r := k8sh(t, "", nil, append(append([]string{"--kubeconfig", env.Kubeconfig}, args...), "-c", star)...)
		if r.Code != 0 {
			t.Fatalf("k8sh -c %s: exit %d\n%s", star, r.Code, r.Stderr)
		}
		return r.Stdout
	}
	// compare runs k8sh, which reads then changes things, against kubectl
	// before the change; once more, after setup puts things back as they
	// were, if an AGE ticked over in between.
	compare := func(t *testing.T, setup func(), star string, kargs []string, args ...string) {
		t.Helper()
		var got, want string
		for try := 0; try < 2; try++ {
			setup()
			want = mustKubectl(t, kubectl, "", kargs...)
			if got = run(t, star, args...); got == want {
				return
			}
		}
		t.Errorf("k8sh -c %s:\n%s\nkubectl %s before:\n%s", star, got, strings.Join(kargs, " "), want)
	}
	t.Run("scaled since", func(t *testing.T) {
		twoReplicas := func() {
			mustKubectl(t, kubectl, "", "-n", ns, "scale", "deploy/web", "--replicas=2")
			mustKubectl(t, kubectl, "", "-n", ns, "rollout", "status", "deploy/web", "--timeout", "60s")
		}
		t.Cleanup(twoReplicas)
		compare(t, twoReplicas, fmt.Sprintf(`l = k8s.list("deploy", namespace=%q)
k8s.scale("deploy", "web", 5, namespace=%[1]q)
k8s.print(l)`, ns), []string{"get", "deploy", "-n", ns})
	})
	t.Run("deleted since", func(t *testing.T) {
		create := func() { mustKubectl(t, kubectl, "", "-n", ns, "create", "configmap", "gone", "--from-literal=a=b") }
		compare(t, create, fmt.Sprintf(`l = k8s.list("cm", namespace=%q)
k8s.delete("cm", "gone", namespace=%[1]q, wait=True)
if k8s.get("cm", "gone", namespace=%[1]q, default=None) != None:
    fail("gone is still there")
k8s.print(l)`, ns), []string{"get", "cm", "-n", ns})
	})
	t.Run("context=", func(t *testing.T) {
		// A kubeconfig whose current context's user the server refuses.
		kc := filepath.Join(t.TempDir(), "kubeconfig")
		data, err := os.ReadFile(env.Kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(kc, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cluster := mustKubectl(t, kubectl, "", "config", "view", "-o", `jsonpath={.contexts[?(@.name=="sandbox")].context.cluster}`)
		mustKubectl(t, kubectl, "", "--kubeconfig", kc, "config", "set-credentials", "nobody", "--token=not-a-token")
		mustKubectl(t, kubectl, "", "--kubeconfig", kc, "config", "set-context", "refused", "--cluster="+cluster, "--user=nobody")
		compare(t, func() {}, fmt.Sprintf(`k8s.print(k8s.list("cm", namespace=%q, context="sandbox"))`, ns),
			[]string{"get", "cm", "-n", ns}, "--kubeconfig", kc, "--context", "refused")
	})
	t.Run("get but not list", func(t *testing.T) {
		mustKubectl(t, kubectl, "", "-n", ns, "create", "role", "getter", "--verb=get", "--resource=configmaps")
		mustKubectl(t, kubectl, "", "-n", ns, "create", "rolebinding", "getter", "--role=getter", "--user=getter")
		if _, _, err := kubectl(t, "", "--as", "getter", "get", "cm", "-n", ns); err == nil {
			t.Fatal("getter may list configmaps")
		}
		compare(t, func() {}, fmt.Sprintf(`k8s.print(k8s.get("cm", "cm-a", namespace=%q))`, ns),
			[]string{"--as", "getter", "get", "cm", "cm-a", "-n", ns}, "--as", "getter")
	})
}

// seedGauges creates, in namespace ns, a CRD (Gauge) whose printer columns
// are of every type (integer, number, boolean, date, string), a Gauge with
// an integer too big for a float64 and a string of runes wider than a
// byte, and a Gauge with none of the fields (empty cells). It is removed
// when t ends.
func seedGauges(t *testing.T, kubectl kubectlRunner, ns, group string) {
	t.Helper()
	crdName := "gauges." + group
	col := func(name, typ, path string) map[string]any {
		return map[string]any{"name": name, "type": typ, "jsonPath": path}
	}
	mustKubectl(t, kubectl, jsonText(t, map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
		"metadata": map[string]any{"name": crdName},
		"spec": map[string]any{
			"group": group, "scope": "Namespaced",
			"names": map[string]any{"plural": "gauges", "singular": "gauge", "kind": "Gauge"},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": map[string]any{
					"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
				"additionalPrinterColumns": []any{
					col("Count", "integer", ".spec.count"), col("Ratio", "number", ".spec.ratio"),
					col("On", "boolean", ".spec.on"), col("Since", "date", ".spec.since"),
					col("Label", "string", ".spec.label"), col("Tags", "string", ".spec.tags"),
				},
			}},
		},
	}), "create", "-f", "-")
	t.Cleanup(func() { kubectl(t, "", "delete", "crd", crdName, "--wait=false") })
	mustKubectl(t, kubectl, "", "wait", "--for", "condition=Established", "crd/"+crdName, "--timeout", "60s")
	for _, g := range []map[string]any{
		{"name": "g1", "spec": map[string]any{"count": 12345678901234567, "ratio": 0.125, "on": true,
			"since": "2020-01-01T00:00:00Z", "label": "héllo wörld ✓", "tags": []any{"a", "b"}}},
		{"name": "g2-empty", "spec": map[string]any{}},
	} {
		mustKubectl(t, kubectl, jsonText(t, map[string]any{
			"apiVersion": group + "/v1", "kind": "Gauge",
			"metadata": map[string]any{"name": g["name"], "namespace": ns},
			"spec":     g["spec"],
		}), "create", "-f", "-")
	}
}

package main

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

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
	names := func(namespaced bool) []string {
		out := mustKubectl(t, kubectl, "", "api-resources", "--verbs=list", fmt.Sprintf("--namespaced=%t", namespaced), "-o", "name")
		return strings.Fields(out)
	}
	modes := []struct{ output, flag string }{{"table", ""}, {"wide", "wide"}, {"name", "name"}, {"yaml", "yaml"}, {"json", "json"}}
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

package main

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/sys"
	"github.com/k8sh/k8sh/repl"
)

// x19cSeed is a Deployment and a CRD with a schema (GROUP) whose fields
// completion offers.
const x19cSeed = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: PLURAL.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {plural: PLURAL, singular: SINGULAR, kind: X19cWidget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
              color: {type: string, enum: [red, green, blue]}
              parts:
                type: array
                items:
                  type: object
                  properties:
                    name: {type: string}
                    weight: {type: integer}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: x19c-web}
spec:
  replicas: 1
  selector: {matchLabels: {app: x19c-web}}
  template:
    metadata: {labels: {app: x19c-web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`

// seedSchemaCompletion applies x19cSeed and waits until the CRD's schema
// is published; it returns the CRD's group and plural (one of its own: a
// discovery cache may still list a CRD of an earlier run with the same
// plural in another group).
func seedSchemaCompletion(tb testing.TB, env *kubetest.Env) (group, plural string) {
	kubectl := env.Kubectl(tb)
	ns := env.Namespace
	group, plural = "x19c"+ns[len(ns)-5:]+".k8sh.test", "x19c"+ns[len(ns)-5:]+"s"
	seed := strings.NewReplacer("GROUP", group, "PLURAL", plural, "SINGULAR", plural[:len(plural)-1]).Replace(x19cSeed)
	kubectl.Must(tb, seed, "apply", "-f", "-")
	tb.Cleanup(func() { kubectl.Run("", "delete", "crd", plural+"."+group, "--wait=false") })
	kubectl.Must(tb, "apiVersion: "+group+"/v1\nkind: X19cWidget\nmetadata: {name: w1}\nspec: {size: 1, parts: [{name: a}]}\n", "apply", "-f", "-")
	kubectl.Must(tb, "", "explain", plural+".spec.parts")
	return group, plural
}

// pathLog records the paths of the requests a client sends.
type pathLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *pathLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.paths
	l.paths = nil
	return p
}

// schemaCompleter is the REPL's completer on the sandbox, its requests
// logged, with d and w bound to the seeded Deployment and widget.
func schemaCompleter(tb testing.TB, env *kubetest.Env, plural string, log *pathLog) *repl.Completer {
	flags := flagsFor(tb, env, "sandbox", env.Namespace)
	wrap := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		c = wrap(c)
		c.Wrap(func(rt http.RoundTripper) http.RoundTripper {
			return roundTrip(func(r *http.Request) (*http.Response, error) {
				log.mu.Lock()
				log.paths = append(log.paths, r.URL.Path)
				log.mu.Unlock()
				return rt.RoundTrip(r)
			})
		})
		return c
	}
	thread, globals, session, clients, err := newThread(flags, options{}, nil, "", nil, io.Discard, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	sys.SetContext(thread, context.Background())
	for name, src := range map[string]string{"d": `k8s.get("deploy", "x19c-web")`, "w": `k8s.get("` + plural + `", "w1")`} {
		v, err := starlark.Eval(thread, "bind", src, globals)
		if err != nil {
			tb.Fatal(err)
		}
		globals[name] = v
	}
	return &repl.Completer{Globals: globals, Source: builtins.NewCompletionSource(session, clients)}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestSchemaCompletionE2E completes fields from the sandbox's schemas: of
// a bound Deployment (fields not set included, with their types), of a
// call chain (no request for the object), inside dict literals passed to
// k8s.apply, k8s.create and k8s.patch, and a CRD's fields; a second TAB
// sends no request.
func TestSchemaCompletionE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	group, plural := seedSchemaCompletion(t, env)
	var log pathLog
	c := schemaCompleter(t, env, plural, &log)
	log.take()
	check := func(before string, want ...string) {
		t.Helper()
		got, _ := c.Complete(before)
		for _, w := range want {
			if !slices.Contains(got, w) {
				t.Errorf("Complete(%q) = %q, lacks %q", before, got, w)
			}
		}
	}
	// Bound objects: every field, set or not.
	check("d.spec.", "replicas", "template", "strategy", "minReadySeconds", "paused", "progressDeadlineSeconds", "revisionHistoryLimit")
	check("d.spec.strategy.rollingUpdate.", "maxSurge", "maxUnavailable")
	check("d.spec.template.spec.containers[0].", "image", "name", "livenessProbe", "securityContext")
	check("d.spec.template.spec.containers[0].securityContext.", "runAsUser", "privileged")
	check("w.spec.", "size", "color", "parts")
	check("w.spec.parts[0].", "name", "weight")
	// Each with its type, when several are listed.
	line := []rune("d.spec.p")
	shown, _ := c.Do(line, len(line))
	var got []string
	for _, s := range shown {
		got = append(got, "p"+string(s))
	}
	if want := []string{"paused <boolean>", "progressDeadlineSeconds <integer>"}; !slices.Equal(got, want) {
		t.Errorf("Do(%q) = %q, want %q", string(line), got, want)
	}
	for _, p := range log.take() {
		if strings.Contains(p, "/deployments") || strings.Contains(p, "/"+plural) {
			t.Errorf("completion on bound objects read %s", p)
		}
	}

	// Call chains: from the schema, without reading the object.
	check(`k8s.get("deploy", "x19c-web").spec.template.spec.`, "containers", "nodeSelector", "tolerations", "affinity")
	check(`k8s.get("deploy/x19c-web").spec.`, "replicas", "paused")
	check(`k8s.list("`+plural+`")[0].spec.`, "size", "color", "parts")
	for _, p := range log.take() {
		if strings.Contains(p, "/deployments") || strings.Contains(p, "/"+plural) {
			t.Errorf("completion of a call chain read %s", p)
		}
	}

	// Dict literals.
	check(`k8s.apply({`, `"apiVersion": `, `"kind": `)
	if got, _ := c.Complete(`k8s.apply({"`); !slices.Equal(got, []string{`apiVersion": `, `kind": `}) {
		t.Errorf(`k8s.apply({": %q, want apiVersion and kind only`, got)
	}
	check(`k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "`, `metadata": `, `spec": `)
	check(`k8s.create({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"`, `image": `, `imagePullPolicy": `, `ports": `)
	check(`k8s.patch("deploy", "x19c-web", {"spec": {"`, `replicas": `, `paused": `)
	check(`k8s.apply({"apiVersion": "`+group+`/v1", "kind": "X19cWidget", "spec": {"parts": [{"`, `name": `, `weight": `)
	// String values: the schema's enum, built-in and a CRD's.
	check(`k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"strategy": {"type": "`, `Recreate"`, `RollingUpdate"`)
	check(`k8s.patch("deploy", "x19c-web", {"spec": {"template": {"spec": {"restartPolicy": '`, `Always'`)
	check(`k8s.apply({"apiVersion": "`+group+`/v1", "kind": "X19cWidget", "spec": {"color": "`, `red"`, `green"`, `blue"`)
	c.SetPending("k8s.apply({\n    \"apiVersion\": \"apps/v1\",\n    \"kind\": \"Deployment\",\n    \"metadata\": {\"name\": \"x\"},\n")
	check(`    "sp`, `spec": `)
	c.SetPending("")

	// Served from the cached schema: a second TAB sends no request.
	log.take()
	check(`k8s.get("deploy", "x19c-web").spec.template.spec.`, "containers")
	check("w.spec.", "size")
	if got := log.take(); len(got) > 0 {
		t.Errorf("a second TAB sent %d requests: %v", len(got), got)
	}
}

// TestSchemaCompletionOnTerminalE2E presses TAB in the REPL on a terminal:
// the fields of a bound Deployment listed with their types, one chosen,
// a key completed inside a dict literal over two lines, and a CRD's fields.
func TestSchemaCompletionOnTerminalE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	group, plural := seedSchemaCompletion(t, env)
	tm := startREPL(t, []string{"XDG_STATE_HOME=" + t.TempDir(), "NO_COLOR=1"},
		"--kubeconfig", env.Kubeconfig, "-n", env.Namespace, "--cache-dir", t.TempDir())
	prompt := "k8sh sandbox:" + env.Namespace + "> "
	at := tm.expect(0, prompt)

	tm.send("d = k8s.get('deploy', 'x19c-web')\r")
	at = tm.expect(at, prompt)
	tm.send("d.spec.\t")
	at = tm.expect(at, "minReadySeconds <integer>")
	at = tm.expect(at, "strategy <DeploymentStrategy>")
	tm.send("rep\t\r")
	at = tm.expect(at, "d.spec.replicas")
	at = tm.expect(at, "1\n")
	at = tm.expect(at, prompt)

	// A call chain: the pod template's fields, the object never read.
	tm.send("k8s.get('deploy', 'x19c-web').spec.template.spec.tol\t")
	at = tm.expect(at, "spec.tolerations")
	tm.send("\x03")
	at = tm.expect(at, prompt)

	// A dict literal over two lines.
	tm.send("x = k8s.create({'apiVersion': 'apps/v1', 'kind': 'Deployment',\r")
	at = tm.expect(at, "... ")
	tm.send(`   "spec": {"repl` + "\t")
	at = tm.expect(at, `"spec": {"replicas": `)
	tm.send("\x03")
	at = tm.expect(at, prompt)

	// A CRD's fields, on the object and in a dict.
	tm.send("w = k8s.get('" + plural + "', 'w1')\r")
	at = tm.expect(at, prompt)
	tm.send("w.spec.\t")
	at = tm.expect(at, "color <string>")
	at = tm.expect(at, "parts <[]Object>")
	tm.send("\x03\x03") // the first leaves the list, the second the line
	at = tm.expect(at, prompt)
	tm.send(`k8s.apply({"apiVersion": "` + group + `/v1", "kind": "X19cWidget", "spec": {"parts": [{"we` + "\t")
	at = tm.expect(at, `[{"weight": `)
	tm.send("\x03")
	at = tm.expect(at, prompt)

	// help() of a field of the bound object: kubectl explain's text.
	tm.send("help(d.spec.strategy)\r")
	at = tm.expect(at, "FIELD: strategy <DeploymentStrategy>")
	tm.expect(at, prompt)
	tm.send("\x04")
	select {
	case <-tm.done:
	case <-time.After(10 * time.Second):
		t.Fatal("Ctrl-D did not end the REPL")
	}
}

// BenchmarkSchemaCompletion times a TAB that completes fields from the
// schema: "warm" on a session that completed before (the document decoded
// in memory), "new-session" the first TAB of a new session on a warm disk
// cache (the document read and decoded). It reports the 95th percentile
// as p95-ms.
func BenchmarkSchemaCompletion(b *testing.B) {
	env := kubetest.Sandbox(b)
	_, plural := seedSchemaCompletion(b, env)
	const line = `k8s.get("pod", "x").spec.containers[0].`
	b.Run("warm", func(b *testing.B) {
		var log pathLog
		c := schemaCompleter(b, env, plural, &log)
		if got, _ := c.Complete(line); !slices.Contains(got, "image") {
			b.Fatalf("first TAB: %q", got)
		}
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			start := time.Now()
			c.Complete(line)
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
	})
	b.Run("new-session", func(b *testing.B) {
		flags := flagsFor(b, env, "sandbox", env.Namespace)
		newCompleter := func() *repl.Completer {
			_, globals, session, clients, err := newThread(flags, options{}, nil, "", nil, io.Discard, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			return &repl.Completer{Globals: globals, Source: builtins.NewCompletionSource(session, clients)}
		}
		if got, _ := newCompleter().Complete(line); !slices.Contains(got, "image") { // the disk cache filled
			b.Fatalf("first TAB: %q", got)
		}
		times := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for range b.N {
			b.StopTimer()
			c := newCompleter()
			b.StartTimer()
			start := time.Now()
			c.Complete(line)
			times = append(times, time.Since(start))
		}
		b.StopTimer()
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)*95/100].Microseconds())/1000, "p95-ms")
	})
}

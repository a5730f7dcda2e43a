package builtins

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	explaincmd "k8s.io/kubectl/pkg/cmd/explain"
	cmdutil "k8s.io/kubectl/pkg/cmd/util"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/kube/kubetest"
)

// x19Seed is what TestExplainLikeKubectlE2E explains beside built-in
// kinds: a CRD with a schema of its own (GROUP), and a Deployment to hold.
const x19Seed = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: PLURAL.GROUP}
spec:
  group: GROUP
  scope: Namespaced
  names: {plural: PLURAL, singular: SINGULAR, kind: X19Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        description: A widget of the explain test.
        properties:
          spec:
            type: object
            description: What the widget should be.
            required: [size]
            properties:
              size: {type: integer, description: How many parts the widget has.}
              color: {type: string, description: The colour it is painted., enum: [red, green, blue]}
              parts:
                type: array
                description: The parts, in order.
                items:
                  type: object
                  properties:
                    name: {type: string, description: The part's name.}
                    weight: {type: integer}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: x19-web}
spec:
  replicas: 1
  selector: {matchLabels: {app: x19-web}}
  template:
    metadata: {labels: {app: x19-web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`

// TestExplainLikeKubectlE2E compares k8s.explain with kubectl explain byte
// for byte: a built-in kind, nested fields, recursive (and max_depth), a
// CRD's kind and field, --api-version, -o plaintext-openapiv2, the fields
// of an object held (k8s.explain(d.spec.strategy), help()), and the errors;
// and reads k8s.schema as data.
func TestExplainLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	kubectl := env.Kubectl(t)
	ns := env.Namespace
	// A plural of its own: kubectl's discovery cache may still list a
	// CRD of an earlier run with the same plural in another group.
	group, plural := "x19"+ns[len(ns)-5:]+".k8sh.test", "x19w"+ns[len(ns)-5:]+"s"
	seed := strings.NewReplacer("GROUP", group, "PLURAL", plural, "SINGULAR", plural[:len(plural)-1]).Replace(x19Seed)
	kubectl.Must(t, seed, "apply", "-f", "-")
	t.Cleanup(func() { kubectl.Run("", "delete", "crd", plural+"."+group, "--wait=false") })
	// The CRD's schema is published in the OpenAPI document a moment later.
	kubectl.Must(t, "", "explain", plural+".spec.color")
	c := e2eClient(t, env, "sandbox")

	for _, ch := range []struct{ star, kubectl string }{
		{`k8s.explain("deploy.spec.strategy")`, "deploy.spec.strategy"},
		{`k8s.explain("pods")`, "pods"},
		{`k8s.explain("deployments.apps.spec.template.spec.containers.resources")`, "deployments.apps.spec.template.spec.containers.resources"},
		{`k8s.explain("pods.spec.containers", recursive=True)`, "pods.spec.containers --recursive"},
		{`k8s.explain("deploy", recursive=True)`, "deploy --recursive"},
		{`k8s.explain("pods.spec", recursive=True, max_depth=1)`, "pods.spec --recursive --max-depth 1"},
		{`k8s.explain("` + plural + `")`, plural},
		{`k8s.explain("` + plural + `.spec.color")`, plural + ".spec.color"},
		{`k8s.explain("` + plural + `.` + group + `.spec.parts", recursive=True)`, plural + "." + group + ".spec.parts --recursive"},
		{`k8s.explain("hpa.spec", api_version="autoscaling/v1")`, "hpa.spec --api-version autoscaling/v1"},
		{`k8s.explain("hpa.spec.metrics", api_version="autoscaling/v2")`, "hpa.spec.metrics --api-version autoscaling/v2"},
		{`k8s.explain("pods.spec.restartPolicy", output="plaintext-openapiv2")`, "pods.spec.restartPolicy -o plaintext-openapiv2"},
		{`k8s.explain(k8s.get("deploy", "x19-web").spec.strategy)`, "deployments.spec.strategy"},
		{`k8s.explain(k8s.get("deploy", "x19-web").spec.template.spec.containers[0])`, "deployments.spec.template.spec.containers"},
		{`k8s.explain(k8s.get("deploy", "x19-web"))`, "deployments"},
		{`k8s.explain(k8s.list("deploy")[0].metadata, recursive=True)`, "deployments.metadata --recursive"},
	} {
		t.Run(ch.kubectl, func(t *testing.T) {
			want, errOut, code := kubectl.Run("", append([]string{"explain"}, strings.Fields(ch.kubectl)...)...)
			if code != 0 {
				t.Fatalf("kubectl explain %s: exit %d: %s", ch.kubectl, code, errOut)
			}
			got, err := describeText(c, ch.star)
			if err != nil {
				t.Fatalf("%s: %v", ch.star, err)
			}
			if got != want {
				t.Errorf("%s:\n%s\nkubectl explain %s:\n%s", ch.star, got, ch.kubectl, want)
			}
		})
	}

	// help() of a field of an object held prints what explain says (one
	// line break at its end, as help() ends every text).
	want := strings.TrimRight(kubectl.Must(t, "", "explain", "deployments.spec.strategy"), "\n") + "\n"
	out := runStar(t, c, `help(k8s.get("deploy", "x19-web").spec.strategy)`)
	if out != want {
		t.Errorf("help(d.spec.strategy):\n%s\nkubectl explain deployments.spec.strategy:\n%s", out, want)
	}

	// kubectl's words for a field that does not exist.
	_, errOut, code := kubectl.Run("", "explain", "pods.spec.nope")
	if code != 1 || errOut != "error: field \"nope\" does not exist\n" {
		t.Errorf("kubectl explain pods.spec.nope: exit %d, %q", code, errOut)
	}
	runStar(t, c, `
assert.fails(lambda: k8s.explain("pods.spec.nope"), 'k8s.explain: field "nope" does not exist')
assert.fails(lambda: k8s.explain("x19podz"), 'k8s.explain: the server doesn.t have a resource type "x19podz"')
assert.fails(lambda: k8s.explain("pods", output="yaml"), 'k8s.explain: unsupported output format "yaml"')
assert.fails(lambda: k8s.explain("pods", max_depth=2), 'k8s.explain: max_depth requires recursive=True')
assert.fails(lambda: k8s.explain(3), 'k8s.explain: for parameter path: got int, want str or k8s.object')
assert.eq(type(k8s.explain("pods")), "string")
`)

	// k8s.schema's fields, types and required are what kubectl explain
	// lists for the same paths.
	fieldLine := regexp.MustCompile("^  ([A-Za-z0-9_$-]+)\t<(.+)>( -required-)?$")
	for _, path := range []string{"pods.spec", "pods.spec.containers", "deploy.spec", "svc.spec.ports", plural + ".spec", "pods.metadata"} {
		var want []string
		for _, l := range strings.Split(kubectl.Must(t, "", "explain", path), "\n") {
			if m := fieldLine.FindStringSubmatch(l); m != nil {
				want = append(want, m[1]+" <"+m[2]+">"+m[3])
			}
		}
		kind, rest, _ := strings.Cut(path, ".")
		out := runStar(t, c, fmt.Sprintf(`
s = k8s.schema(%q).lookup(%q)
s = s.items or s
for n, f in s.fields.items():
    print("%%s <%%s>%%s" %% (n, f.type, " -required-" if f.required else ""))
`, kind, rest))
		if got := strings.Split(strings.TrimSuffix(out, "\n"), "\n"); !slices.Equal(got, want) || len(want) == 0 {
			t.Errorf("k8s.schema of %s:\n%s\nkubectl explain's fields:\n%s", path, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}

	// k8s.schema: the same schema as data.
	runStar(t, c, fmt.Sprintf(`
s = k8s.schema("deploy")
assert.eq((s.kind, s.api_version, s.name, s.type, s.path), ("Deployment", "apps/v1", "Deployment", "Object", ""))
spec = s.fields["spec"]
assert.eq(spec.type, "DeploymentSpec")
assert.eq(spec.fields["replicas"].type, "integer")
assert.true(spec.fields["selector"].required)
assert.true(not spec.fields["replicas"].required)
assert.eq(sorted(spec.required_fields), ["selector", "template"])
assert.true("Number of desired pods" in spec.fields["replicas"].description)
c = s.lookup("spec.template.spec.containers")
assert.eq(c.type, "[]Container")
assert.eq(c.items.type, "Container")
assert.eq(c.items.fields["image"].type, "string")
assert.eq(s.lookup("spec.template.spec.containers.image").type, "string")
assert.eq(s.lookup("spec.template.spec.containers.image").path, "spec.template.spec.containers.[].image")
assert.eq(s.lookup("metadata.labels").type, "map[string]string")
assert.eq(s.lookup("nope.nothing"), None)
assert.eq(k8s.schema("pods").lookup("spec.restartPolicy").enum, ["Always", "Never", "OnFailure"])
assert.eq(k8s.schema("hpa", api_version="autoscaling/v1").api_version, "autoscaling/v1")
w = k8s.schema(%q)
assert.eq(w.api_version, %q)
assert.eq(w.description, "A widget of the explain test.")
assert.eq(sorted(w.fields["spec"].fields.keys()), ["color", "parts", "size"])
assert.eq(w.lookup("spec.color").enum, ["red", "green", "blue"])
assert.true(w.lookup("spec.size").required)
assert.eq(w.lookup("spec.parts").items.fields["weight"].type, "integer")
d = k8s.get("deploy", "x19-web")
assert.eq(k8s.schema(d.spec.strategy).type, "DeploymentStrategy")
assert.eq(k8s.schema(d.spec.template.spec.containers[0]).fields["ports"].type, "[]ContainerPort")
assert.eq(str(k8s.schema(d.spec.strategy)), "<k8s.schema apps/v1 Deployment.spec.strategy <DeploymentStrategy>>")
assert.fails(lambda: k8s.schema("x19podz"), 'k8s.schema: the server doesn.t have a resource type "x19podz"')
assert.fails(lambda: k8s.schema(""), 'k8s.schema: empty kind')
`, plural, group+"/v1"))
}

// BenchmarkExplainE2E is k8s.explain("deploy.spec.strategy") in process,
// and the peer: kubectl's own explain command (k8s.io/kubectl/pkg/cmd/explain,
// on kubectl's factory) in the same process. cold: a new client on an
// empty cache directory each time (discovery and OpenAPI read from the
// server); new-client: a new client on a warm cache directory each time
// (what a new process finds); warm: one client throughout.
func BenchmarkExplainE2E(b *testing.B) {
	env := kubetest.Sandbox(b)
	const path = "deploy.spec.strategy"
	want := env.Kubectl(b).Must(b, "", "explain", path)
	client := func(dir string) *kube.Client {
		flags := kube.NewConfigFlags()
		kc, ns := env.Kubeconfig, env.Namespace
		flags.KubeConfig, flags.Namespace, flags.CacheDir = &kc, &ns, &dir
		return kube.NewClient(flags)
	}
	k8shExplain := func(b *testing.B, c *kube.Client) {
		got, err := c.Explain(context.Background(), path, kube.ExplainOptions{})
		if err != nil || got != want {
			b.Fatalf("k8s.explain: %v\n%s", err, got)
		}
	}
	kubectlExplain := func(b *testing.B, dir string) {
		flags := genericclioptions.NewConfigFlags(true)
		kc := env.Kubeconfig
		flags.KubeConfig, flags.CacheDir = &kc, &dir
		var out bytes.Buffer
		o, err := explaincmd.NewExplainFlags(genericiooptions.IOStreams{Out: &out, ErrOut: io.Discard}).ToOptions(cmdutil.NewFactory(flags), "kubectl", []string{path})
		if err != nil {
			b.Fatal(err)
		}
		if err := o.Run(); err != nil || out.String() != want {
			b.Fatalf("kubectl explain: %v\n%s", err, out.String())
		}
	}
	b.Run("k8sh/cold", func(b *testing.B) {
		for range b.N {
			k8shExplain(b, client(b.TempDir()))
		}
	})
	b.Run("kubectl/cold", func(b *testing.B) {
		for range b.N {
			kubectlExplain(b, b.TempDir())
		}
	})
	b.Run("k8sh/new-client", func(b *testing.B) {
		dir := b.TempDir()
		k8shExplain(b, client(dir))
		b.ResetTimer()
		for range b.N {
			k8shExplain(b, client(dir))
		}
	})
	b.Run("kubectl/new-client", func(b *testing.B) {
		dir := b.TempDir()
		kubectlExplain(b, dir)
		b.ResetTimer()
		for range b.N {
			kubectlExplain(b, dir)
		}
	})
	b.Run("k8sh/warm", func(b *testing.B) {
		c := client(b.TempDir())
		k8shExplain(b, c)
		b.ResetTimer()
		for range b.N {
			k8shExplain(b, c)
		}
	})
}

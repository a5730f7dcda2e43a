package repl

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
)

// schemaSource is fakeSource with the schemas of two kinds: a Deployment
// (a few of its fields) and a CRD's Widget.
type schemaSource struct {
	fakeSource
	asked []string
}

var fakeSchemas = map[string]map[string]string{
	"apps/v1 Deployment": {
		"":                                 "apiVersion:string kind:string metadata:ObjectMeta spec:DeploymentSpec status:DeploymentStatus",
		"metadata":                         "labels:map[string]string name:string namespace:string",
		"spec":                             "replicas:integer selector:LabelSelector strategy:DeploymentStrategy template:PodTemplateSpec",
		"spec.strategy":                    "rollingUpdate:RollingUpdateDeployment type:string",
		"spec.template":                    "metadata:ObjectMeta spec:PodSpec",
		"spec.template.spec":               "containers:[]Container nodeName:string",
		"spec.template.spec.containers.[]": "image:string name:string ports:[]ContainerPort",
	},
	"example.com/v1 Widget": {
		"":     "apiVersion:string kind:string metadata:ObjectMeta spec:Object",
		"spec": "color:string size:integer",
	},
}

var fakeEnums = map[string][]string{
	"apps/v1 Deployment spec.strategy.type":                               {"Recreate", "RollingUpdate"},
	"apps/v1 Deployment spec.template.spec.containers.[].imagePullPolicy": {"Always", "IfNotPresent", "Never"},
	"example.com/v1 Widget spec.color":                                    {"red", "green", "blue"},
}

func (s *schemaSource) Enum(apiVersion, kind string, path []string) []string {
	if apiVersion == "" && kind == "deploy" {
		apiVersion, kind = "apps/v1", "Deployment"
	}
	return fakeEnums[apiVersion+" "+kind+" "+strings.Join(path, ".")]
}

func (s *schemaSource) Fields(apiVersion, kind string, path []string) (names, types []string) {
	s.asked = append(s.asked, fmt.Sprintf("%s %s %s", apiVersion, kind, strings.Join(path, ".")))
	if apiVersion == "" {
		switch kind {
		case "deploy", "deployments", "Deployment":
			apiVersion, kind = "apps/v1", "Deployment"
		case "widgets":
			apiVersion, kind = "example.com/v1", "Widget"
		}
	}
	for _, f := range strings.Fields(fakeSchemas[apiVersion+" "+kind][strings.Join(path, ".")]) {
		n, t, _ := strings.Cut(f, ":")
		names, types = append(names, n), append(types, t)
	}
	return names, types
}

// fakeObject is a map of an object that knows its schema path, as
// builtins' k8s.object does.
type fakeObject struct {
	apiVersion, kind string
	path             []string
	fields           starlark.StringDict
}

func (o *fakeObject) String() string        { return "fake" }
func (o *fakeObject) Type() string          { return "k8s.object" }
func (o *fakeObject) Freeze()               {}
func (o *fakeObject) Truth() starlark.Bool  { return true }
func (o *fakeObject) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable") }
func (o *fakeObject) Attr(name string) (starlark.Value, error) {
	return o.fields[name], nil
}
func (o *fakeObject) AttrNames() []string {
	var names []string
	for n := range o.fields {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
func (o *fakeObject) SchemaPath() (string, string, []string) { return o.apiVersion, o.kind, o.path }

func TestCompleteSchemaFields(t *testing.T) {
	called := false
	boom := starlark.NewBuiltin("boom", func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error) {
		called = true
		return starlark.None, nil
	})
	at := func(path ...string) *fakeObject {
		return &fakeObject{apiVersion: "apps/v1", kind: "Deployment", path: path, fields: starlark.StringDict{}}
	}
	// A Deployment with only spec.replicas and one container set.
	container := at("spec", "template", "spec", "containers", "[]")
	container.fields["name"] = starlark.String("web")
	podSpec := at("spec", "template", "spec")
	podSpec.fields["containers"] = starlark.NewList([]starlark.Value{container})
	template := at("spec", "template")
	template.fields["spec"] = podSpec
	spec := at("spec")
	spec.fields["replicas"] = starlark.MakeInt(2)
	spec.fields["template"] = template
	d := at()
	d.fields["spec"] = spec
	d.fields["kind"] = starlark.String("Deployment")
	w := &fakeObject{apiVersion: "example.com/v1", kind: "Widget", fields: starlark.StringDict{}}
	plain := &fakeObject{fields: starlark.StringDict{"a": starlark.None}} // no kind: no schema

	k8s := &starlarkstruct.Module{Name: "k8s", Members: starlark.StringDict{"get": boom, "list": boom, "apply": boom, "create": boom, "patch": boom}}
	src := &schemaSource{}
	c := &Completer{Globals: starlark.StringDict{"k8s": k8s, "d": d, "w": w, "plain": plain}, Source: src}
	for _, tc := range []struct {
		pending, before string
		want            []string
		types           map[string]string
		n               int
	}{
		// Bound objects: every field the schema allows, not only those set.
		{before: "d.spec.", want: []string{"replicas", "selector", "strategy", "template"},
			types: map[string]string{"replicas": "integer", "selector": "LabelSelector", "strategy": "DeploymentStrategy", "template": "PodTemplateSpec"}},
		{before: "d.", want: []string{"apiVersion", "kind", "metadata", "spec", "status"}},
		{before: "d.spec.st", want: []string{"strategy"}, n: 2},
		// A field not set: its fields from the schema.
		{before: "d.spec.strategy.", want: []string{"rollingUpdate", "type"}},
		{before: "d.metadata.", want: []string{"labels", "name", "namespace"}},
		{before: "d.spec.template.spec.containers[0].", want: []string{"image", "name", "ports"}},
		{before: "x = [c.name for c in d.spec.template.spec.containers[0].i", want: []string{"image"}, n: 1},
		{before: "w.spec.", want: []string{"color", "size"}},
		{before: "plain.", want: []string{"a"}},
		// Call chains: the kind of the call's first argument, no call made.
		{before: `k8s.get("deploy", "web").spec.template.spec.`, want: []string{"containers", "nodeName"}},
		{before: `k8s.get("deploy/web").spec.re`, want: []string{"replicas"}, n: 2},
		{before: `k8s.get("widgets", "w1", namespace="x").spec.`, want: []string{"color", "size"}},
		{before: `k8s.list("deploy")[0].spec.template.spec.containers[1].`, want: []string{"image", "name", "ports"}},
		{before: `k8s.get("deploy")[0].spec.s`, want: []string{"selector", "strategy"}, n: 1},
		{before: `k8s.get("deploy", name="web").spec.s`, want: []string{"selector", "strategy"}, n: 1},
		{before: `k8s.get("deploy").s`, want: nil, n: 0},  // a list
		{before: `k8s.list("deploy").s`, want: nil, n: 0}, // a list
		{before: `k8s.get("deploy", "web")[0].s`, want: nil, n: 0},
		// Dict literals: apiVersion and kind first, then the kind's fields.
		{before: `k8s.apply({`, want: []string{`"apiVersion": `, `"kind": `}},
		{before: `k8s.apply({"`, want: []string{`apiVersion": `, `kind": `}, n: 0},
		{before: `k8s.create({"apiVersion": "apps/v1", "`, want: []string{`kind": `}},
		{before: `k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", `, want: []string{`"metadata": `, `"spec": `, `"status": `}},
		{before: `k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"re`, want: []string{`replicas": `}, n: 2},
		{before: `k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 2, `,
			want: []string{`"selector": `, `"strategy": `, `"template": `}},
		{before: `k8s.create({"kind": "Deployment", "apiVersion": "apps/v1", "spec": {"template": {"spec": {"containers": [{"name": "web", "`,
			want: []string{`image": `, `ports": `}},
		{before: `k8s.apply({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {`, want: []string{`"color": `, `"size": `}},
		{before: `k8s.patch("deploy", "web", {"spec": {"st`, want: []string{`strategy": `}, n: 2},
		{pending: "k8s.apply({\n  \"apiVersion\": \"apps/v1\",\n  \"kind\": \"Deployment\",\n  \"spec\": {\n", before: `    "te`, want: []string{`template": `}, n: 2},
		// Keys in single quotes close with one.
		{before: `k8s.apply({'apiVersion': 'apps/v1', 'kind': 'Deployment', 'spec': {'st`, want: []string{`strategy': `}, n: 2},
		{before: `k8s.apply({'`, want: []string{`apiVersion': `, `kind': `}},
		// String values: the schema's enum.
		{before: `k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"strategy": {"type": "`, want: []string{`Recreate"`, `RollingUpdate"`}},
		{before: `k8s.patch("deploy", "web", {"spec": {"strategy": {"type": 'Ro`, want: []string{`RollingUpdate'`}, n: 2},
		{before: `k8s.create({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"template": {"spec": {"containers": [{"imagePullPolicy": "`,
			want: []string{`Always"`, `IfNotPresent"`, `Never"`}},
		{before: `k8s.apply({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"color": "g`, want: []string{`green"`}, n: 1},
		{before: `k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"strategy": {"type": x + "`, want: nil},
		// Not a key: a value, another function's dict.
		{before: `k8s.apply({"kind": "Dep`, want: nil, n: 3},
		{before: `print({"`, want: nil},
	} {
		c.SetPending(tc.pending)
		got, types, n := c.complete(tc.before)
		if diff := cmp.Diff(tc.want, got); diff != "" || n != tc.n {
			t.Errorf("complete(%q): n = %d, want %d; candidates (-want +got):\n%s", tc.before, n, tc.n, diff)
		}
		if tc.types != nil {
			if diff := cmp.Diff(tc.types, types); diff != "" {
				t.Errorf("complete(%q): types (-want +got):\n%s", tc.before, diff)
			}
		}
	}
	c.SetPending("")
	if called {
		t.Error("completion called a function")
	}
	if len(src.namesAsked) > 0 {
		t.Errorf("completion of fields asked for object names: %v", src.namesAsked)
	}
}

// TestDoShowsTypes checks that several fields are listed with their types,
// and that a candidate chosen from the list loses its type.
func TestDoShowsTypes(t *testing.T) {
	spec := &fakeObject{apiVersion: "apps/v1", kind: "Deployment", path: []string{"spec"}, fields: starlark.StringDict{}}
	c := &Completer{Globals: starlark.StringDict{"s": spec}, Source: &schemaSource{}}
	line := []rune("s.")
	got, n := c.Do(line, len(line))
	var shown []string
	for _, g := range got {
		shown = append(shown, string(g))
	}
	want := []string{"replicas <integer>", "selector <LabelSelector>", "strategy <DeploymentStrategy>", "template <PodTemplateSpec>"}
	if diff := cmp.Diff(want, shown); diff != "" || n != 0 {
		t.Errorf("Do(%q): n = %d; (-want +got):\n%s", line, n, diff)
	}
	if got := c.StripHints("x = s.replicas <integer> + 1"); got != "x = s.replicas + 1" {
		t.Errorf("StripHints: %q", got)
	}
	chosen := []rune("s.strategy <DeploymentStrategy>")
	nl, pos, ok := c.OnChange(chosen, len(chosen), '\r')
	if !ok || string(nl) != "s.strategy" || pos != len("s.strategy") {
		t.Errorf("OnChange: %q %d %v", string(nl), pos, ok)
	}
	// In a dict literal too, the key's closing quote and colon before.
	line = []rune(`k8s.apply({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"s`)
	got, _ = c.Do(line, len(line))
	shown = nil
	for _, g := range got {
		shown = append(shown, string(g))
	}
	if want := []string{`elector": <LabelSelector>`, `trategy": <DeploymentStrategy>`}; !cmp.Equal(want, shown) {
		t.Errorf("Do(%q) = %q, want %q", string(line), shown, want)
	}
	if got := c.LineRead(`k8s.apply({"spec": {"strategy": <DeploymentStrategy>`); got != `k8s.apply({"spec": {"strategy": ` {
		t.Errorf("LineRead: %q", got)
	}
	if c.StripHints(`"strategy": <DeploymentStrategy>`) != `"strategy": <DeploymentStrategy>` {
		t.Error("the types shown are kept after a line was read")
	}
	// One candidate is inserted as it is.
	line = []rune("s.rep")
	got, _ = c.Do(line, len(line))
	if len(got) != 1 || string(got[0]) != "licas" {
		t.Errorf("Do(%q) = %q", line, got)
	}
}

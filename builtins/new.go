package builtins

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["new"] = doc.Builtin("k8s.new", newDoc, newBuiltin)
}

const newDoc = `k8s.new(kind, name, **fields)

Returns a new manifest, a k8s.object, equal to what kubectl create KIND
NAME ... --dry-run=client -o yaml prints (yaml.encode of it is the same
text): nothing is sent to the server; give it to k8s.apply or k8s.create.
The fields are kubectl create's flags, with _ for -:
  k8s.new("deployment", "web", image="nginx", replicas=3, port=80)
  k8s.new("service nodeport", "web", tcp=["80:8080"], node_port=30080)
  k8s.new("configmap", "cfg", from_literal={"a": "1"}, from_file=["app.conf"])
  k8s.new("secret", "s", from_literal={"password": "x"})
  k8s.new("secret tls", "t", cert="tls.crt", key="tls.key")
  k8s.new("job", "once", from_cronjob="nightly")
Kinds and their fields (a str field that kubectl repeats also takes a
list; namespace= sets metadata.namespace, as kubectl's -n):
  deployment (deploy): image (str or list), replicas=1, port, command (list)
  service clusterip|nodeport|loadbalancer|externalname (service, svc: clusterip,
    or type="nodeport"): tcp ("port[:target]"), cluster_ip, node_port, external_name
  configmap (cm): from_literal (dict or "k=v" list), from_file ("[key=]path",
    a directory for each file in it), from_env_file, append_hash
  secret [generic]: as configmap, and type (the Secret's type)
  secret tls: cert, key (paths), append_hash
  secret docker-registry: docker_server, docker_username, docker_password,
    docker_email, from_file, append_hash
  job: image, command; or from_cronjob (the name of a CronJob, read from
    the cluster, in namespace= or the session's)
  cronjob (cj): image, schedule, restart="OnFailure", command
  namespace (ns), serviceaccount (sa): no fields
  role: verb, resource ("pods", "deployments.apps", "pods/log"),
    resource_name (resources are completed by the cluster's discovery, as
    kubectl does)
  clusterrole: as role, and non_resource_url, aggregation_rule (dict)
  rolebinding: role or clusterrole, user, group, serviceaccount ("ns:name")
  clusterrolebinding: clusterrole, user, group, serviceaccount
  ingress (ing): rule ("host/path=svc:port[,tls[=secret]]"), default_backend,
    ingress_class, annotation (dict or "k=v" list)
  poddisruptionbudget (pdb): selector (str or dict), min_available or
    max_unavailable (int or "50%")
  priorityclass (pc): value, global_default, description,
    preemption_policy="PreemptLowerPriority"
  quota (resourcequota): hard (dict or "k=v,k=v"), scopes (list or "a,b")
Paths are relative to the script's directory and, with --sandbox, must
stay inside it, as file.read reads them.`

// newField is a field of k8s.new: the generators that take it and how it
// sets the options.
type newField struct {
	kinds string // the generators, space-separated words of GeneratorKinds values ("service" for every service)
	set   func(o *kube.NewOptions, v starlark.Value) error
}

// strList reads a str or a list of str.
func strList(v starlark.Value) ([]string, error) {
	if s, ok := v.(starlark.String); ok {
		return []string{string(s)}, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok || v.Type() == "dict" {
		return nil, fmt.Errorf("got %s, want str or list of str", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := x.(starlark.String)
		if !ok {
			return nil, fmt.Errorf("got a list holding %s, want str", x.Type())
		}
		out = append(out, string(s))
	}
	return out, nil
}

// pairs reads a dict (as "k=v" in its order) or a str or list of "k=v".
func pairs(v starlark.Value) ([]string, error) {
	d, ok := v.(starlark.IterableMapping)
	if !ok {
		return strList(v)
	}
	var out []string
	for _, kv := range d.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("keys must be str, got %s", kv[0].Type())
		}
		val := kv[1].String()
		if s, ok := kv[1].(starlark.String); ok {
			val = string(s)
		}
		out = append(out, k+"="+val)
	}
	return out, nil
}

func strField(p *string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		s, ok := v.(starlark.String)
		if !ok {
			return fmt.Errorf("got %s, want str", v.Type())
		}
		*p = string(s)
		return nil
	}
}

// intOrString reads 2 or "50%" as its text.
func intOrString(p *string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		switch v := v.(type) {
		case starlark.String:
			*p = string(v)
		case starlark.Int:
			*p = v.String()
		default:
			return fmt.Errorf("got %s, want int or str", v.Type())
		}
		return nil
	}
}

func int32Field(p *int32) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		n, err := starlark.AsInt32(v)
		if err != nil {
			return err
		}
		*p = int32(n)
		return nil
	}
}

func listField(p *[]string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		l, err := strList(v)
		*p = l
		return err
	}
}

func pairsField(p *[]string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		l, err := pairs(v)
		*p = l
		return err
	}
}

func boolField(p *bool) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		b, ok := v.(starlark.Bool)
		if !ok {
			return fmt.Errorf("got %s, want bool", v.Type())
		}
		*p = bool(b)
		return nil
	}
}

// newFields are the fields of k8s.new, for options o.
func newFields(o *kube.NewOptions, cronjob *string) map[string]newField {
	return map[string]newField{
		"namespace":         {"*", strField(&o.Namespace)},
		"image":             {"deployment job cronjob", listField(&o.Image)},
		"replicas":          {"deployment", int32Field(&o.Replicas)},
		"port":              {"deployment", int32Field(&o.Port)},
		"command":           {"deployment job cronjob", listField(&o.Command)},
		"type":              {"generic", strField(&o.Type)},
		"tcp":               {"clusterip nodeport loadbalancer externalname", listField(&o.TCP)},
		"cluster_ip":        {"clusterip", strField(&o.ClusterIP)},
		"node_port":         {"nodeport", int32Field(&o.NodePort)},
		"external_name":     {"externalname", strField(&o.ExternalName)},
		"from_literal":      {"configmap generic", pairsField(&o.FromLiteral)},
		"from_file":         {"configmap generic docker-registry", listField(&o.FromFile)},
		"from_env_file":     {"configmap generic", listField(&o.FromEnvFile)},
		"append_hash":       {"configmap generic tls docker-registry", boolField(&o.AppendHash)},
		"cert":              {"tls", strField(&o.Cert)},
		"key":               {"tls", strField(&o.Key)},
		"docker_server":     {"docker-registry", strField(&o.DockerServer)},
		"docker_username":   {"docker-registry", strField(&o.DockerUsername)},
		"docker_password":   {"docker-registry", strField(&o.DockerPassword)},
		"docker_email":      {"docker-registry", strField(&o.DockerEmail)},
		"schedule":          {"cronjob", strField(&o.Schedule)},
		"restart":           {"cronjob", strField(&o.Restart)},
		"from_cronjob":      {"job", strField(cronjob)},
		"verb":              {"role clusterrole", listField(&o.Verb)},
		"resource":          {"role clusterrole", listField(&o.Resource)},
		"resource_name":     {"role clusterrole", listField(&o.ResourceName)},
		"non_resource_url":  {"clusterrole", listField(&o.NonResourceURL)},
		"aggregation_rule":  {"clusterrole", aggregationField(o)},
		"role":              {"rolebinding", strField(&o.Role)},
		"clusterrole":       {"rolebinding clusterrolebinding", strField(&o.ClusterRole)},
		"user":              {"rolebinding clusterrolebinding", listField(&o.User)},
		"group":             {"rolebinding clusterrolebinding", listField(&o.Group)},
		"serviceaccount":    {"rolebinding clusterrolebinding", listField(&o.ServiceAccount)},
		"rule":              {"ingress", listField(&o.Rule)},
		"default_backend":   {"ingress", strField(&o.DefaultBackend)},
		"ingress_class":     {"ingress", strField(&o.IngressClass)},
		"annotation":        {"ingress", pairsField(&o.Annotation)},
		"selector":          {"poddisruptionbudget", selectorField(&o.Selector)},
		"min_available":     {"poddisruptionbudget", intOrString(&o.MinAvailable)},
		"max_unavailable":   {"poddisruptionbudget", intOrString(&o.MaxUnavailable)},
		"value":             {"priorityclass", int32Field(&o.Value)},
		"global_default":    {"priorityclass", boolField(&o.GlobalDefault)},
		"description":       {"priorityclass", strField(&o.Description)},
		"preemption_policy": {"priorityclass", strField(&o.PreemptionPolicy)},
		"hard":              {"quota", joinedPairs(&o.Hard)},
		"scopes":            {"quota", joinedList(&o.Scopes)},
	}
}

func aggregationField(o *kube.NewOptions) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		l, err := pairs(v)
		if err != nil {
			return err
		}
		o.AggregationRule = map[string]string{}
		for _, p := range l {
			for _, kv := range strings.Split(p, ",") {
				k, val, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%q: want key=value", kv)
				}
				o.AggregationRule[k] = val
			}
		}
		return nil
	}
}

func selectorField(p *string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		var s selectorArg
		if err := s.Unpack(v); err != nil {
			return err
		}
		*p = s.s
		return nil
	}
}

func joinedPairs(p *string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		l, err := pairs(v)
		*p = strings.Join(l, ",")
		return err
	}
}

func joinedList(p *string) func(*kube.NewOptions, starlark.Value) error {
	return func(_ *kube.NewOptions, v starlark.Value) error {
		l, err := strList(v)
		*p = strings.Join(l, ",")
		return err
	}
}

// generatorKind is the generator of kind as k8s.new takes it ("svc",
// "service nodeport", "secret tls"), and type= for a service.
func generatorKind(kind string, kwargs []starlark.Tuple) (string, error) {
	k := strings.Join(strings.Fields(strings.ToLower(kind)), " ")
	g, ok := kube.GeneratorKinds[k]
	if !ok {
		var kinds []string
		for _, v := range kube.GeneratorKinds {
			if !strings.Contains(strings.Join(kinds, ","), v) {
				kinds = append(kinds, v)
			}
		}
		sort.Strings(kinds)
		return "", fmt.Errorf("unknown kind %q (want one of %s)", kind, strings.Join(kinds, ", "))
	}
	if strings.HasPrefix(g, "service ") && strings.Contains(k, " ") {
		for _, kv := range kwargs {
			if string(kv[0].(starlark.String)) == "type" {
				return "", fmt.Errorf("%q names the service type: give it once (\"service\", type=... or %q alone)", kind, kind)
			}
		}
	}
	if strings.HasPrefix(g, "service ") && !strings.Contains(k, " ") {
		for _, kv := range kwargs {
			if string(kv[0].(starlark.String)) == "type" {
				t, _ := starlark.AsString(kv[1])
				g2, ok := kube.GeneratorKinds["service "+strings.ToLower(t)]
				if !ok {
					return "", fmt.Errorf("unknown service type %q (want clusterip, nodeport, loadbalancer or externalname)", t)
				}
				g = g2
			}
		}
	}
	return g, nil
}

func newBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var kind, name string
	if err := starlark.UnpackPositionalArgs(b.Name(), args, nil, 2, &kind, &name); err != nil {
		return nil, err
	}
	gen, err := generatorKind(kind, kwargs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	o := kube.NewOptions{Replicas: 1, Port: -1, PreemptionPolicy: "PreemptLowerPriority"}
	var cronjob string
	fields := newFields(&o, &cronjob)
	words := strings.Fields(gen)
	last := words[len(words)-1]
	for _, kv := range kwargs {
		k := string(kv[0].(starlark.String))
		if k == "type" && words[0] == "service" {
			continue // chose the generator
		}
		f, ok := fields[k]
		if !ok || (f.kinds != "*" && !strings.Contains(" "+f.kinds+" ", " "+last+" ")) {
			var known []string
			for n, f := range fields {
				if f.kinds == "*" || strings.Contains(" "+f.kinds+" ", " "+last+" ") {
					known = append(known, n)
				}
			}
			sort.Strings(known)
			return nil, fmt.Errorf("%s: %s takes no field %s (its fields: %s)", b.Name(), gen, k, strings.Join(known, ", "))
		}
		if err := f.set(&o, kv[1]); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", b.Name(), k, err)
		}
	}
	var mapper kube.ResourceMapper
	if gen == "role" || gen == "clusterrole" || cronjob != "" {
		c, err := cluster(thread, b)
		if err != nil {
			return nil, err
		}
		if m, ok := c.(kube.ResourceMapper); ok {
			mapper = m
		}
		if cronjob != "" {
			u, err := c.Get(sys.Context(thread), "cronjobs.v1.batch", cronjob, o.Namespace)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
			cj := &batchv1.CronJob{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, cj); err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
			o.FromCronJob = cj
		}
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	obj, err := kube.Generate(gen, name, o, sessionFiles{s}, mapper, func(msg string) { warn(thread, msg) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	m, err := kube.ObjectMap(obj)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return NewObject(m), nil
}

// sessionFiles reads the files a generator is given as the session's
// file module reads them: relative to the script's directory, and with
// --sandbox only inside it.
type sessionFiles struct{ s *Session }

func (f sessionFiles) open(p string, do func(fsys fs.FS, name string) error) error {
	fsys, name, _, done, err := manifestFS(f.s, p)
	if err != nil {
		return err
	}
	defer done()
	return do(fsys, name)
}

func (f sessionFiles) Stat(p string) (fi fs.FileInfo, err error) {
	err = f.open(p, func(fsys fs.FS, name string) error {
		fi, err = fs.Stat(fsys, name)
		return err
	})
	return fi, err
}

func (f sessionFiles) ReadFile(p string) (data []byte, err error) {
	err = f.open(p, func(fsys fs.FS, name string) error {
		data, err = fs.ReadFile(fsys, name)
		return err
	})
	return data, err
}

func (f sessionFiles) ReadDir(p string) (es []fs.DirEntry, err error) {
	err = f.open(p, func(fsys fs.FS, name string) error {
		es, err = fs.ReadDir(fsys, name)
		return err
	})
	return es, err
}

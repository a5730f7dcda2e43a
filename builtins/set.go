package builtins

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
)

func init() {
	K8s.Members["set_image"] = doc.Builtin("k8s.set_image", setImageDoc, setBuiltin)
	K8s.Members["set_env"] = doc.Builtin("k8s.set_env", setEnvDoc, setBuiltin)
	K8s.Members["set_resources"] = doc.Builtin("k8s.set_resources", setResourcesDoc, setBuiltin)
}

const setCommonDoc = `
It works on pods, deployments, statefulsets, daemonsets, replicasets,
replication controllers, jobs, cronjobs and pod templates. Each object is
read, changed in its Go type and sent as the strategic merge patch from
before to after, as kubectl set computes and sends it; an object the
change leaves as it was is not sent and not announced (as kubectl).
` + targetsDoc + changeDoc

const setImageDoc = `k8s.set_image(targets, images, *, selector=None, all_namespaces=False, namespace=None, dry_run=False, parallel=8, context=None)

Sets container images as kubectl set image does: images is a dict
{container: image} ("*" for every container, init containers included)
or an image, for every container: k8s.set_image("deploy/web", {"nginx":
"nginx:1.27"}), k8s.set_image("deploy", "nginx:1.27",
selector="app=web"). A container named that the object does not have
fails that object. Announced "deployment.apps/web image updated".
` + setCommonDoc

const setEnvDoc = `k8s.set_env(targets, env, *, container=None, overwrite=True, selector=None, all_namespaces=False, namespace=None, dry_run=False, parallel=8, context=None)

Sets and removes environment variables of containers as kubectl set env
does: env is a dict {name: value, name: None}, None removing the
variable (kubectl's NAME-). A variable set replaces every one of its name
where it stands; new ones go last, in the order given. container selects
the containers (and init containers) by name, with "*" wildcards; None
for all. overwrite=False refuses to change a variable that has another
value. Announced "deployment.apps/web env updated".
` + setCommonDoc

const setResourcesDoc = `k8s.set_resources(targets, *, requests=None, limits=None, container=None, selector=None, all_namespaces=False, namespace=None, dry_run=False, parallel=8, context=None)

Sets resource requests and limits of containers as kubectl set resources
does: requests and limits are dicts {"cpu": "100m", "memory": "64Mi"};
the resources named change, the others stay. container selects the
containers (and init containers) by name, with "*" wildcards; None for
all. Announced "deployment.apps/web resource requirements updated".
` + setCommonDoc

func setBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target, arg         starlark.Value
		requests, limits    starlark.Value = starlark.None, starlark.None
		container, ns, kctx string
		overwrite           = true
		sel                 selectorArg
		allNs, dryRun       bool
		parallel            = kube.DefaultParallel
	)
	common := []any{"selector?", &sel, "all_namespaces?", &allNs, "namespace?", starconv.OrNone(&ns),
		"dry_run?", &dryRun, "parallel?", &parallel, "context?", starconv.OrNone(&kctx)}
	var pairs []any
	switch b.Name() {
	case "k8s.set_image":
		pairs = append([]any{"targets", &target, "images", &arg}, common...)
	case "k8s.set_env":
		pairs = append([]any{"targets", &target, "env", &arg, "container?", starconv.OrNone(&container), "overwrite?", &overwrite}, common...)
	default:
		pairs = append([]any{"targets", &target, "requests?", &requests, "limits?", &limits, "container?", starconv.OrNone(&container)}, common...)
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, pairs...); err != nil {
		return nil, err
	}
	var (
		fn   kube.PodSpecChange
		err  error
		verb string
	)
	switch b.Name() {
	case "k8s.set_image":
		verb = "set the image of"
		images := map[string]string{}
		switch a := arg.(type) {
		case starlark.String:
			images["*"] = string(a)
		case starlark.IterableMapping:
			if images, err = stringDict(b, "images", a, false); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("%s: for parameter images: got %s, want dict {container: image} or str", b.Name(), arg.Type())
		}
		fn, err = kube.SetImages(images)
	case "k8s.set_env":
		verb = "set the env of"
		d, ok := arg.(starlark.IterableMapping)
		if !ok {
			return nil, fmt.Errorf("%s: for parameter env: got %s, want dict {name: value or None}", b.Name(), arg.Type())
		}
		var names []string
		var values []*string
		for _, kv := range d.Items() {
			k, ok := starlark.AsString(kv[0])
			if !ok {
				return nil, fmt.Errorf("%s: env: names must be str, got %s", b.Name(), kv[0].Type())
			}
			names = append(names, k)
			switch v := kv[1].(type) {
			case starlark.NoneType:
				values = append(values, nil)
			case starlark.String:
				s := string(v)
				values = append(values, &s)
			case starlark.Int:
				s := v.String()
				values = append(values, &s)
			default:
				return nil, fmt.Errorf("%s: env: the value of %q is a %s, want str (or None to remove it)", b.Name(), k, kv[1].Type())
			}
		}
		fn, err = kube.SetEnv(names, values, container, overwrite)
	default:
		verb = "set the resources of"
		var req, lim map[string]string
		for _, p := range []struct {
			name string
			v    starlark.Value
			out  *map[string]string
		}{{"requests", requests, &req}, {"limits", limits, &lim}} {
			if p.v == starlark.None {
				continue
			}
			d, ok := p.v.(starlark.IterableMapping)
			if !ok {
				return nil, fmt.Errorf("%s: for parameter %s: got %s, want dict such as {\"cpu\": \"100m\"}", b.Name(), p.name, p.v.Type())
			}
			if *p.out, err = stringDict(b, p.name, d, true); err != nil {
				return nil, err
			}
		}
		rq, err := kube.ParseResourceList(req)
		if err != nil {
			return nil, fmt.Errorf("%s: requests: %w", b.Name(), err)
		}
		lm, err := kube.ParseResourceList(lim)
		if err != nil {
			return nil, fmt.Errorf("%s: limits: %w", b.Name(), err)
		}
		fn, err = kube.SetResources(rq, lm, container)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	t, err := unpackTargets(b, target, sel, ns, allNs)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, verb+" "+t.what)
	if err != nil {
		return nil, err
	}
	return t.modify(ch, parallel, fn.Mutate)
}

// stringDict reads a dict of str to str (numbers too, as their text, when
// numbers).
func stringDict(b *starlark.Builtin, param string, d starlark.IterableMapping, numbers bool) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range d.Items() {
		k, ok := starlark.AsString(kv[0])
		if !ok {
			return nil, fmt.Errorf("%s: %s: keys must be str, got %s", b.Name(), param, kv[0].Type())
		}
		switch v := kv[1].(type) {
		case starlark.String:
			out[k] = string(v)
		case starlark.Int, starlark.Float:
			if numbers {
				out[k] = v.String()
				continue
			}
			return nil, fmt.Errorf("%s: %s: the value of %q is a %s, want str", b.Name(), param, k, kv[1].Type())
		default:
			return nil, fmt.Errorf("%s: %s: the value of %q is a %s, want str", b.Name(), param, k, kv[1].Type())
		}
	}
	return out, nil
}

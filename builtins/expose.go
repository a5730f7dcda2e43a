package builtins

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["expose"] = doc.Builtin("k8s.expose", exposeDoc, exposeBuiltin)
}

const exposeDoc = `k8s.expose(target, port=None, *, target_port=None, type=None, name=None, protocol=None, selector=None, labels=None, cluster_ip=None, external_ip=None, load_balancer_ip=None, session_affinity=None, namespace=None, dry_run=False, context=None)

Creates a Service for a deployment, replica set, replication controller,
pod or service, as kubectl expose does, and returns it: its selector is
the object's pod selector (or selector=, a str "app=web" or a dict), its
ports the object's container ports (or port=: 80, "80,443" or a list),
each with the protocol the object gives it, target_port (a number or a
port name) defaulting to the port; name defaults to the object's, labels
(a dict) to its labels. type is "ClusterIP", "NodePort", "LoadBalancer"
or "ExternalName"; cluster_ip="None" makes it headless. The target is a
k8s.object, a dict or "kind/name" ("deploy/web"). Announced
"service/web exposed".` + changeDoc

func exposeBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target       starlark.Value
		port         starlark.Value = starlark.None
		sel          selectorArg
		labels       starlark.Value = starlark.None
		o            kube.ExposeOptions
		targetPort   starlark.Value = starlark.None
		ns, kctx     string
		dryRun       bool
		selectorSeen bool
	)
	for _, kv := range kwargs {
		if string(kv[0].(starlark.String)) == "selector" && kv[1] != starlark.None {
			selectorSeen = true
		}
	}
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "port?", &port,
		"target_port?", &targetPort, "type?", starconv.OrNone(&o.Type), "name?", starconv.OrNone(&o.Name),
		"protocol?", starconv.OrNone(&o.Protocol), "selector?", &sel, "labels?", &labels,
		"cluster_ip?", starconv.OrNone(&o.ClusterIP), "external_ip?", starconv.OrNone(&o.ExternalIP),
		"load_balancer_ip?", starconv.OrNone(&o.LoadBalancerIP), "session_affinity?", starconv.OrNone(&o.SessionAffinity),
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	switch p := port.(type) {
	case starlark.NoneType:
	case starlark.Int, starlark.String:
		o.Port = strings.Trim(p.String(), `"`)
	case *starlark.List, starlark.Tuple:
		var ps []string
		it := p.(starlark.Iterable).Iterate()
		defer it.Done()
		var x starlark.Value
		for it.Next(&x) {
			ps = append(ps, strings.Trim(x.String(), `"`))
		}
		o.Port = strings.Join(ps, ",")
	default:
		return nil, fmt.Errorf("%s: for parameter port: got %s, want int, str or list", b.Name(), port.Type())
	}
	switch p := targetPort.(type) {
	case starlark.NoneType:
	case starlark.Int:
		o.TargetPort = p.String()
	case starlark.String:
		o.TargetPort = string(p)
	default:
		return nil, fmt.Errorf("%s: for parameter target_port: got %s, want int or str", b.Name(), targetPort.Type())
	}
	if selectorSeen {
		o.Selector = map[string]string{}
		for _, kv := range strings.Split(sel.s, ",") {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" || strings.Contains(v, "=") {
				return nil, fmt.Errorf("%s: selector: unexpected label spec: %s (expose takes key=value pairs only)", b.Name(), kv)
			}
			o.Selector[k] = v
		}
	}
	if labels != starlark.None {
		d, ok := labels.(starlark.IterableMapping)
		if !ok {
			return nil, fmt.Errorf("%s: for parameter labels: got %s, want dict", b.Name(), labels.Type())
		}
		m, err := stringDict(b, "labels", d, false)
		if err != nil {
			return nil, err
		}
		o.Labels = m
	}
	r, err := unpackNamed(b, target, "", ns)
	if err != nil {
		return nil, err
	}
	ch, err := begin(thread, b, kctx, dryRun, "expose "+r.what())
	if err != nil {
		return nil, err
	}
	ctx := sys.Context(thread)
	obj, err := ch.c.Get(ctx, r.kind, r.name, r.namespace)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	svc, err := kube.ExposeService(obj, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	out, err := ch.w.Create(ctx, svc, "", ch.dryRun)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	v := NewObject(out.Object)
	ch.done("exposed", v, out)
	return v, nil
}

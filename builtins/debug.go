package builtins

import (
	"context"
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["debug"] = doc.Builtin("k8s.debug", debugDoc, debugBuiltin)
}

// debugCluster is what k8s.debug needs of a cluster: kube.Client
// implements it.
type debugCluster interface {
	Debug(ctx context.Context, kind, name, namespace string, o kube.DebugOptions) (*unstructured.Unstructured, string, error)
}

var _ debugCluster = (*kube.Client)(nil)

const debugDoc = `k8s.debug(target, image="busybox", *, container=None, target_container=None, command=None, stdin=True, tty=False, profile="general", env=None, namespace=None, dry_run=False, context=None)

Adds an ephemeral container to a running pod, as kubectl debug POD
--image=IMAGE adds it (through the pod's ephemeralcontainers
subresource), and returns the updated Pod:
  p = k8s.debug("web-5fc9", target_container="web")
  p.spec.ephemeralContainers[-1].name      # "debugger-x7k2p"
  k8s.debug("deploy/web", "nicolaka/netshoot", profile="netadmin", command=["sleep", "1d"])

target is a Pod k8s.object, a pod's name ("web-5fc9", "pod/web-5fc9"), or
a workload ("deploy/web", "svc/web"): the pod kubectl would pick.
container is the new container's name (default "debugger-" and five
random characters, as kubectl names it), target_container the container
whose processes it shares (kubectl debug --target), command its command
(a list, or a string run through sh -c), stdin and tty as kubectl debug
-i and -t, env a dict of environment variables. profile is kubectl debug's
--profile: "legacy", "general" (the default, adds SYS_PTRACE),
"baseline", "restricted", "netadmin" (NET_ADMIN, NET_RAW) or "sysadmin"
(privileged). It does not attach: k8s.attach or k8s.shell does that.

An ephemeral container cannot be removed: this is a change. It is refused
under --read-only and in read-only contexts, confirmed in protected ones,
and dry_run=True (or --dry-run) sends it as a server-side dry run: the
returned Pod shows what it would add. The copy-to form of kubectl debug
(--copy-to) is not offered. context names another kubeconfig context for
this one call.`

func debugBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		target                       starlark.Value
		image                        = "busybox"
		container, targetC, ns, kctx string
		command, envV                starlark.Value = starlark.None, starlark.None
		stdin                                       = true
		tty, dryRun                  bool
		profile                      = "general"
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "target", &target, "image?", &image,
		"container?", starconv.OrNone(&container), "target_container?", starconv.OrNone(&targetC),
		"command?", &command, "stdin?", &stdin, "tty?", &tty, "profile?", &profile, "env?", &envV,
		"namespace?", starconv.OrNone(&ns), "dry_run?", &dryRun, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	if image == "" {
		return nil, fmt.Errorf("%s: image must not be empty", b.Name())
	}
	known := false
	for _, p := range kube.DebugProfiles {
		known = known || p == profile
	}
	if !known {
		return nil, fmt.Errorf("%s: unknown profile %q (want one of %s)", b.Name(), profile, strings.Join(kube.DebugProfiles, ", "))
	}
	o := kube.DebugOptions{Image: image, Container: container, TargetContainer: targetC, Stdin: stdin, TTY: tty, Profile: profile}
	switch c := command.(type) {
	case starlark.NoneType:
	case starlark.String:
		o.Command = []string{"sh", "-c", string(c)}
	case *starlark.List, starlark.Tuple:
		it := starlark.Iterate(c)
		var x starlark.Value
		for it.Next(&x) {
			s, ok := starlark.AsString(x)
			if !ok {
				it.Done()
				return nil, fmt.Errorf("%s: command: got %s in the list, want str", b.Name(), x.Type())
			}
			o.Command = append(o.Command, s)
		}
		it.Done()
	default:
		return nil, fmt.Errorf("%s: for parameter command: got %s, want list or str", b.Name(), command.Type())
	}
	switch e := envV.(type) {
	case starlark.NoneType:
	case *starlark.Dict:
		for _, kv := range e.Items() {
			k, ok1 := starlark.AsString(kv[0])
			v, ok2 := starlark.AsString(kv[1])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("%s: env: want a dict of str to str, got %s: %s", b.Name(), kv[0].Type(), kv[1].Type())
			}
			o.Env = append(o.Env, corev1.EnvVar{Name: k, Value: v})
		}
	default:
		return nil, fmt.Errorf("%s: for parameter env: got %s, want dict", b.Name(), envV.Type())
	}
	kind, name, shown, ns, err := podTarget(b, target, ns)
	if err != nil {
		return nil, err
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	dc, c, err := clusterAs[debugCluster](thread, b, kctx, "this session's cluster cannot debug pods")
	if err != nil {
		return nil, err
	}
	o.DryRun = dryRun || s.DryRun
	if err := Mutating(thread, b, c, fmt.Sprintf("add a debug container (%s) to %s", image, shown), o.DryRun); err != nil {
		return nil, err
	}
	pod, cname, err := dc.Debug(sys.Context(thread), kind, name, ns, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", b.Name(), shown, err)
	}
	v := NewObject(pod.Object)
	dry := ""
	if o.DryRun {
		dry = " (server dry run)"
	}
	Announce(thread, c, []string{fmt.Sprintf("pod/%s: debug container %s (%s) added%s", pod.GetName(), cname, image, dry)}, v)
	return v, nil
}

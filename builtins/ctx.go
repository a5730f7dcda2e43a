package builtins

import (
	"fmt"
	"os"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

// Ctx is the ctx module:
//
//	ctx.use(name, *, namespace=None)
//	ctx.current()        struct(name, cluster, server, user, namespace)
//	ctx.list()           list of context names
//	ctx.contexts()       list of structs, as ctx.current()
//	ctx.namespace(ns=None)
//	ctx.each(contexts, fn, *, parallel=16, timeout=None)   (fanout_write.go)
var Ctx = &starlarkstruct.Module{
	Name: "ctx",
	Members: starlark.StringDict{
		"use": doc.Builtin("ctx.use", `ctx.use(name, *, namespace=None)

Switches this session to kubeconfig context name (and namespace, or the
context's default). Only this session changes: the kubeconfig file is never
written, so another terminal, another script and the next k8sh are
unaffected. An unknown name fails and lists the contexts there are.`, ctxUse),
		"current": doc.Builtin("ctx.current", `ctx.current()

Returns the session's context as struct(name, cluster, server, user,
namespace).`, ctxCurrent),
		"list": doc.Builtin("ctx.list", `ctx.list()

Returns the names of the kubeconfig's contexts, sorted:
{c: len(k8s.list("pods", context=c)) for c in ctx.list()}.`, ctxList),
		"contexts": doc.Builtin("ctx.contexts", `ctx.contexts()

Returns every kubeconfig context as a struct like ctx.current()'s, sorted
by name.`, ctxContexts),
		"namespace": doc.Builtin("ctx.namespace", `ctx.namespace(ns=None)

Returns the session's default namespace; with ns, makes ns the default
first. The builtins' namespace= arguments still win for one call. As
kubens does, a namespace that does not exist is refused (nothing
changes); when the user may not read namespaces, ns is taken with a
warning on stderr.`, ctxNamespace),
	},
}

func contextStruct(i kube.ContextInfo) *starlarkstruct.Struct {
	return starlarkstruct.FromStringDict(starlarkstruct.Default, starlark.StringDict{
		"name":      starlark.String(i.Name),
		"cluster":   starlark.String(i.Cluster),
		"server":    starlark.String(i.Server),
		"user":      starlark.String(i.User),
		"namespace": starlark.String(i.Namespace),
	})
}

func sessionContexts(thread *starlark.Thread, b *starlark.Builtin) (*Session, error) {
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Contexts == nil {
		return nil, fmt.Errorf("%s: no kubeconfig in this session", b.Name())
	}
	return s, nil
}

// switchTo makes the session use context name in namespace ns.
func switchTo(s *Session, b *starlark.Builtin, name, ns string) error {
	c, err := s.Contexts.New(name, ns)
	if err != nil {
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	s.Cluster = c
	return nil
}

func ctxUse(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, ns string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "name", &name, "namespace?", starconv.OrNone(&ns)); err != nil {
		return nil, err
	}
	s, err := sessionContexts(thread, b)
	if err != nil {
		return nil, err
	}
	return starlark.None, switchTo(s, b, name, ns)
}

func ctxCurrent(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	c, err := cluster(thread, b)
	if err != nil {
		return nil, err
	}
	info, err := c.Context()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return contextStruct(info), nil
}

func ctxList(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	infos, err := contextInfos(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	out := make([]starlark.Value, len(infos))
	for i, info := range infos {
		out[i] = starlark.String(info.Name)
	}
	return starlark.NewList(out), nil
}

func ctxContexts(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	infos, err := contextInfos(thread, b, args, kwargs)
	if err != nil {
		return nil, err
	}
	out := make([]starlark.Value, len(infos))
	for i, info := range infos {
		out[i] = contextStruct(info)
	}
	return starlark.NewList(out), nil
}

func contextInfos(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) ([]kube.ContextInfo, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	s, err := sessionContexts(thread, b)
	if err != nil {
		return nil, err
	}
	infos, err := s.Contexts.Contexts()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return infos, nil
}

func ctxNamespace(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ns string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "ns?", &ns); err != nil {
		return nil, err
	}
	s, err := sessionContexts(thread, b)
	if err != nil {
		return nil, err
	}
	info, err := s.Cluster.Context()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if ns != "" && ns != info.Namespace {
		// As kubens does, a namespace that does not exist is refused; one
		// the user may not read (Forbidden) or cannot check is taken, with
		// a warning.
		exists, err := s.Cluster.Exists(sys.Context(thread), "namespaces", ns, "")
		switch {
		case err != nil:
			w := s.Sys.Stderr
			if w == nil {
				w = os.Stderr
			}
			fmt.Fprintf(w, "Warning: %s: cannot check that namespace %q exists: %s\n", b.Name(), ns, printers.EscapeTerminal(err.Error()))
		case !exists:
			return nil, fmt.Errorf("%s: namespace %q does not exist in context %q", b.Name(), ns, info.Name)
		}
		if err := switchTo(s, b, info.Name, ns); err != nil {
			return nil, err
		}
		info.Namespace = ns
	}
	return starlark.String(info.Namespace), nil
}

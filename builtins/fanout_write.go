package builtins

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"go.starlark.net/starlark"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	Ctx.Members["each"] = doc.Builtin("ctx.each", ctxEachDoc, ctxEach)
}

// builtinFunc is the function of a builtin.
type builtinFunc = func(*starlark.Thread, *starlark.Builtin, starlark.Tuple, []starlark.Tuple) (starlark.Value, error)

// fanWritesDoc is what the doc of a mutating builtin that takes contexts=
// says of it.
const fanWritesDoc = `

contexts makes the change in several kubeconfig contexts (names or glob
patterns, as the read builtins take them), one after another in their
order, each as if given as context=: each context's safety rule holds on
its own (a read-only one is refused, a protected one asks, naming it, or
needs --yes), and a context refused or failing does not stop the others.
It returns a dict of what the call returned in each context that
succeeded; the others are said on stderr, a line each, and
k8s.last_errors() gives them; it fails only when every context failed.`

// fanWrites makes fn, a mutating builtin that takes context=, take
// contexts= too: it runs once per context, in order, on this thread, with
// context=NAME. Writes are not run in parallel: each context's safety
// rule (Mutating) may ask the user, and a change is made once its
// confirmation is given.
func fanWrites(fn builtinFunc) builtinFunc {
	return func(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
		var f fanout
		var single string
		rest := make([]starlark.Tuple, 0, len(kwargs))
		for _, kv := range kwargs {
			switch k, _ := starlark.AsString(kv[0]); k {
			case "contexts":
				if err := f.contexts.Unpack(kv[1]); err != nil {
					return nil, fmt.Errorf("%s: for parameter contexts: %w", b.Name(), err)
				}
				continue
			case "context":
				if err := starconv.OrNone(&single).Unpack(kv[1]); err != nil {
					return nil, fmt.Errorf("%s: for parameter context: %w", b.Name(), err)
				}
			}
			rest = append(rest, kv)
		}
		if !f.on() {
			return fn(thread, b, args, rest)
		}
		f.parallel = 1
		names, err := f.names(thread, b, single)
		if err != nil {
			return nil, err
		}
		results := make([]fanResult[starlark.Value], len(names))
		for i, name := range names {
			if err := sys.Context(thread).Err(); err != nil {
				return nil, fmt.Errorf("%s: %w (in context %q)", b.Name(), err, name)
			}
			kw := append(slices.Clone(rest), starlark.Tuple{starlark.String("context"), starlark.String(name)})
			v, err := fn(thread, b, args, kw)
			results[i] = fanResult[starlark.Value]{context: name, value: v, err: err}
		}
		if err := fanFinish(thread, b, results); err != nil {
			return nil, err
		}
		return byContext(results, func(v starlark.Value) starlark.Value { return v }), nil
	}
}

const ctxEachDoc = `ctx.each(contexts, fn, *, parallel=16, timeout=None)

Runs fn in each kubeconfig context that contexts names (a name or glob
pattern, "prod-*", or a list of them, as contexts= of the read builtins),
in parallel, parallel at a time, each with the session switched to that
context (in its default namespace) as ctx.use would: the k8s builtins fn
calls without context= go there. fn is called with the context's name if
it takes a parameter, else with none. Returns a dict of context name to
what fn returned, in the order of the contexts:
  ctx.each("prod-*", lambda: len(k8s.list("pods")))
  {"prod-eu": 41, "prod-us": 38}

A context where fn fails (an error, or timeout, a duration such as "30s",
passed) is left out of the dict: it is said on stderr, a line each, and
k8s.last_errors() gives them; ctx.each fails only when fn failed in every
context. Each call of fn runs on a thread of its own, at the same time as
the others: fn is frozen first (the values it closes over can no longer
change), and it must not change values the caller shares with it (a
global list): it should return what it finds. Its prints go to the
script's output as they come; changes it makes are announced with their
context, and a protected context still asks, one question at a time.`

func ctxEach(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		f  fanout
		fn starlark.Callable
	)
	f.parallel = defaultFanout
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "contexts", &f.contexts, "fn", &fn,
		"parallel?", &f.parallel, "timeout?", &f.timeout); err != nil {
		return nil, err
	}
	if !f.on() {
		return nil, fmt.Errorf("%s: contexts: got None, want a context name, pattern or list of them", b.Name())
	}
	s, err := sessionContexts(thread, b)
	if err != nil {
		return nil, err
	}
	names, err := f.names(thread, b, "")
	if err != nil {
		return nil, err
	}
	withName := false
	if sf, ok := fn.(*starlark.Function); ok {
		withName = sf.NumParams() > 0
	}
	fn.Freeze()
	// What the calls share with the caller, one at a time.
	var mu sync.Mutex
	printLine := func(_ *starlark.Thread, msg string) {
		mu.Lock()
		defer mu.Unlock()
		if thread.Print != nil {
			thread.Print(thread, msg)
		} else {
			fmt.Fprintln(stderr(thread), msg)
		}
	}
	var confirm func(string) (string, error)
	if s.Confirm != nil {
		var askMu sync.Mutex
		confirm = func(prompt string) (string, error) {
			askMu.Lock()
			defer askMu.Unlock()
			return s.Confirm(prompt)
		}
	}
	var announce func(string)
	if s.Announce != nil {
		announce = func(line string) {
			mu.Lock()
			defer mu.Unlock()
			s.Announce(line)
		}
	}
	results := fanRun(thread, b, &f, names, func(ctx context.Context, name string, c Cluster) (starlark.Value, error) {
		child := *s
		child.Cluster = c
		child.Confirm, child.Announce = confirm, announce
		t := &starlark.Thread{Name: "ctx.each " + name, Print: printLine}
		SetSession(t, &child)
		child.Budget(t)
		sys.SetContext(t, ctx)
		stop := context.AfterFunc(ctx, func() { t.Cancel(ctx.Err().Error()) })
		defer stop()
		var callArgs starlark.Tuple
		if withName {
			callArgs = starlark.Tuple{starlark.String(name)}
		}
		v, err := starlark.Call(t, fn, callArgs, nil)
		if err != nil {
			return nil, err
		}
		return v, nil
	})
	if err := fanFinish(thread, b, results); err != nil {
		return nil, err
	}
	return byContext(results, func(v starlark.Value) starlark.Value { return v }), nil
}

package builtins

import (
	"context"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"
	"sync"
	"weak"

	"go.starlark.net/starlark"
	"k8s.io/cli-runtime/pkg/printers"

	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/sys"
)

// Fan-out: the read builtins (k8s.get, list, iter, exists, events,
// describe, top, logs, watch) take contexts= to ask several kubeconfig
// contexts at once, parallel= of them at a time, each bounded by timeout=.
// A context that fails (unreachable, Forbidden, without the kind) is data,
// not an error: the call returns what the others answered, prints a line
// for each failed context on stderr, and k8s.last_errors() gives them; it
// fails only when every context failed. Objects read so know their context
// (k8s.context_of, the CONTEXT column of their tables).

func init() {
	K8s.Members["last_errors"] = doc.Builtin("k8s.last_errors", lastErrorsDoc, lastErrorsBuiltin)
	K8s.Members["context_of"] = doc.Builtin("k8s.context_of", contextOfDoc, contextOfBuiltin)
}

// defaultFanout is how many contexts a fan-out asks at once by default.
const defaultFanout = 16

// fanoutDoc is what the doc of each read builtin says of contexts=.
const fanoutDoc = `contexts asks several kubeconfig contexts at once: a list of names or
glob patterns ("prod-*", matched as the k8s config's patterns are), or one
such str; each context in its own default namespace unless namespace= is
given. parallel (16) bounds how many are asked at once, timeout (a
duration, "10s", or seconds) how long each may take. A context that fails
(unreachable, Forbidden, without the kind) does not lose the others'
answers: the call returns what they answered, prints one line per failed
context on stderr ("k8s.list: fleet-03: ...") and k8s.last_errors() gives
them; it fails only when every context failed. docs/fleet.md says more.`

// fanout is the contexts=, parallel= and timeout= arguments of a read
// builtin.
type fanout struct {
	contexts contextsArg
	parallel int
	timeout  watchDuration
}

// args are the parameters of f for starlark.UnpackArgs, to append to a
// builtin's own; withTimeout is false for the builtins whose timeout=
// means something of its own (k8s.watch, k8s.logs).
func (f *fanout) args(withTimeout bool) []any {
	f.parallel = defaultFanout
	a := []any{"contexts?", &f.contexts, "parallel?", &f.parallel}
	if withTimeout {
		a = append(a, "timeout?", &f.timeout)
	}
	return a
}

// on tells whether contexts= was given.
func (f *fanout) on() bool { return f.contexts.set }

// contextsArg is contexts=: a list (or tuple) of context names or glob
// patterns, or one as a str; None is not given.
type contextsArg struct {
	patterns []string
	set      bool
}

var _ starlark.Unpacker = (*contextsArg)(nil)

func (a *contextsArg) Unpack(v starlark.Value) error {
	*a = contextsArg{}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil
	case starlark.String:
		a.patterns = []string{string(v)}
	case *starlark.List, starlark.Tuple:
		seq := v.(starlark.Indexable)
		for i := range seq.Len() {
			s, ok := seq.Index(i).(starlark.String)
			if !ok {
				return fmt.Errorf("item %d is a %s, want a context name or pattern (str)", i, seq.Index(i).Type())
			}
			a.patterns = append(a.patterns, string(s))
		}
		if len(a.patterns) == 0 {
			return fmt.Errorf("an empty list names no context")
		}
	default:
		return fmt.Errorf("got %s, want a list of context names or patterns", v.Type())
	}
	for _, p := range a.patterns {
		if _, err := path.Match(p, ""); err != nil {
			return fmt.Errorf("bad pattern %q: %w", p, err)
		}
	}
	a.set = true
	return nil
}

// names resolves contexts= against the kubeconfig of the session: each
// pattern's matches in name order, in the order of the patterns, each
// once. single is the builtin's context= argument, which cannot be given
// with it. A pattern that matches nothing is an error: it lists the
// contexts there are.
func (f *fanout) names(thread *starlark.Thread, b *starlark.Builtin, single string) ([]string, error) {
	if single != "" {
		return nil, fmt.Errorf("%s: context=%q and contexts=: give one", b.Name(), single)
	}
	if f.parallel < 1 {
		return nil, fmt.Errorf("%s: parallel must be at least 1, got %d", b.Name(), f.parallel)
	}
	return matchContexts(thread, b, f.contexts.patterns)
}

func matchContexts(thread *starlark.Thread, b *starlark.Builtin, patterns []string) ([]string, error) {
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if s.Contexts == nil || s.ForContext == nil {
		return nil, fmt.Errorf("%s: contexts=: no kubeconfig contexts in this session", b.Name())
	}
	infos, err := s.Contexts.Contexts()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	all := make([]string, len(infos))
	for i, info := range infos {
		all[i] = info.Name
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range patterns {
		n := 0
		for _, name := range all {
			if ok, _ := path.Match(p, name); ok {
				n++
				if !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
		if n == 0 {
			return nil, fmt.Errorf("%s: contexts: %q matches no context of the kubeconfig; the contexts are: %s", b.Name(), p, strings.Join(all, ", "))
		}
	}
	return out, nil
}

// fanResult is what one context answered.
type fanResult[T any] struct {
	context string
	value   T
	err     error
}

// fanRun calls fn for each context of names with its cluster, f.parallel
// at a time, each under a context.Context bounded by f.timeout, and
// returns what each answered, in the order of names. fn runs on its own
// goroutine: it must not touch Starlark values or the thread.
func fanRun[T any](thread *starlark.Thread, b *starlark.Builtin, f *fanout, names []string, fn func(ctx context.Context, name string, c Cluster) (T, error)) []fanResult[T] {
	s, _ := thread.Local(sessionKey).(*Session)
	parent := sys.Context(thread)
	out := make([]fanResult[T], len(names))
	sem := make(chan struct{}, max(f.parallel, 1))
	var wg sync.WaitGroup
	for i, name := range names {
		out[i].context = name
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := parent, context.CancelFunc(func() {})
			if f.timeout.set {
				ctx, cancel = context.WithTimeout(parent, f.timeout.d)
			}
			defer cancel()
			// fn runs apart, so that a context that does not answer in
			// time (or at Ctrl-C) is given up at once: not every request
			// of a client takes ctx (discovery does not), and what fn
			// still does then is not waited for.
			done := make(chan fanResult[T], 1)
			go func() {
				c, err := s.ForContext(name)
				var v T
				if err == nil {
					v, err = fn(ctx, name, c)
				}
				done <- fanResult[T]{value: v, err: err}
			}()
			var r fanResult[T]
			select {
			case r = <-done:
			case <-ctx.Done():
				r.err = ctx.Err()
			}
			if r.err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
				r.err = fmt.Errorf("no answer within %s (timeout=)", f.timeout)
			}
			out[i].value, out[i].err = r.value, r.err
		}()
	}
	wg.Wait()
	return out
}

// fanErrors are the contexts that failed in the last fan-out of a thread,
// in order, for k8s.last_errors(). Streams (k8s.watch, k8s.logs) add to
// them as their contexts end, from their goroutines.
type fanErrors struct {
	mu       sync.Mutex
	contexts []string
	messages []string
}

func (e *fanErrors) add(name, msg string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.contexts = append(e.contexts, name)
	e.messages = append(e.messages, msg)
}

const lastErrorsKey = "k8sh.fanout.errors"

// fanMessage is err's message without the builtin's name that it may
// start with (an error of a whole builtin run for one context).
func fanMessage(b *starlark.Builtin, err error) string {
	return strings.TrimPrefix(err.Error(), b.Name()+": ")
}

// fanFinish ends a fan-out of b: the failed contexts become
// k8s.last_errors(), and a line on stderr each. It fails when the call was
// interrupted, or when every context failed (with each one's message, and
// no lines on stderr).
func fanFinish[T any](thread *starlark.Thread, b *starlark.Builtin, results []fanResult[T]) error {
	if err := sys.Context(thread).Err(); err != nil {
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	errs := &fanErrors{}
	for _, r := range results {
		if r.err != nil {
			errs.add(r.context, fanMessage(b, r.err))
		}
	}
	thread.SetLocal(lastErrorsKey, errs)
	if n := len(errs.contexts); n > 0 && n == len(results) {
		if n == 1 {
			return fmt.Errorf("%s: %s: %s", b.Name(), errs.contexts[0], errs.messages[0])
		}
		var m strings.Builder
		fmt.Fprintf(&m, "%s: every context failed:", b.Name())
		for i, name := range errs.contexts {
			fmt.Fprintf(&m, "\n  %s: %s", name, errs.messages[i])
		}
		return errors.New(m.String())
	}
	w := stderr(thread)
	for i, name := range errs.contexts {
		fmt.Fprintf(w, "%s: %s: %s\n", b.Name(), name, printers.EscapeTerminal(errs.messages[i]))
	}
	return nil
}

// byContext is a dict of what each context that answered answered, in
// the order of the contexts.
func byContext[T any](results []fanResult[T], value func(T) starlark.Value) *starlark.Dict {
	d := starlark.NewDict(len(results))
	for _, r := range results {
		if r.err == nil {
			d.SetKey(starlark.String(r.context), value(r.value))
		}
	}
	wp := weak.Make(d)
	fanDicts.Store(wp, true)
	runtime.AddCleanup(d, func(wp weak.Pointer[starlark.Dict]) { fanDicts.Delete(wp) }, wp)
	return d
}

// fanDicts are the dicts byContext made, held weakly, for the echo.
var fanDicts sync.Map // weak.Pointer[starlark.Dict] -> bool

// echoByContext is the REPL's echo of a dict a call with contexts= made
// whose values are texts (k8s.describe, k8s.logs, k8s.top): each
// context's text under a line "==> CONTEXT <==", as tail prints several
// files; ok is false for any other value.
func echoByContext(v *starlark.Dict) (string, bool) {
	if _, ok := fanDicts.Load(weak.Make(v)); !ok || v.Len() == 0 {
		return "", false
	}
	var b strings.Builder
	for i, kv := range v.Items() {
		var text string
		switch x := kv[1].(type) {
		case starlark.String:
			text = printers.EscapeTerminal(strings.TrimSuffix(string(x), "\n"))
		case *topRows:
			text = x.text
		default:
			return "", false
		}
		if i > 0 {
			b.WriteString("\n\n")
		}
		k, _ := starlark.AsString(kv[0])
		fmt.Fprintf(&b, "==> %s <==\n%s", k, text)
	}
	return b.String(), true
}

const lastErrorsDoc = `k8s.last_errors()

Returns the contexts that failed in the last call of this thread that took
contexts= (or of ctx.each), as a dict of context name to message, in the
order of the contexts; {} when all answered. A call with contexts= returns
what the contexts that answered gave, and fails only when all failed:
  pods = k8s.list("pods", contexts=["prod-*"])
  for name, msg in k8s.last_errors().items():
      print("unreachable:", name, msg)
For k8s.watch and k8s.logs(follow=True), a context whose stream ends with
an error is added when it ends.`

func lastErrorsBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
		return nil, err
	}
	d := starlark.NewDict(0)
	if e, _ := thread.Local(lastErrorsKey).(*fanErrors); e != nil {
		e.mu.Lock()
		defer e.mu.Unlock()
		for i, name := range e.contexts {
			d.SetKey(starlark.String(name), starlark.String(e.messages[i]))
		}
	}
	return d, nil
}

const contextOfDoc = `k8s.context_of(obj)

Returns the name of the kubeconfig context obj was read from: the one
context= named, or the session's, for k8s.get, k8s.list, k8s.iter and
k8s.watch; each object's own when read with contexts= across several. None
for an object not read from a cluster (a dict, a k8s.new object):
  for p in k8s.list("pods", contexts=["prod-*"], where=lambda p: p.status.phase == "Failed"):
      print(k8s.context_of(p), p.metadata.name)`

func contextOfBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var v starlark.Value
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "obj", &v); err != nil {
		return nil, err
	}
	o, ok := v.(*Object)
	if !ok {
		return nil, fmt.Errorf("%s: got %s, want a k8s.object", b.Name(), v.Type())
	}
	if o.context != "" {
		return starlark.String(o.context), nil
	}
	if o.row != nil && o.row.read != nil && o.row.read.cluster != nil {
		info, err := o.row.read.cluster.Context()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return starlark.String(info.Name), nil
	}
	return starlark.None, nil
}

// tagged marks the objects of vals (k8s.objects) as read from context.
func tagged(vals []starlark.Value, context string) {
	for _, v := range vals {
		if o, ok := v.(*Object); ok {
			o.context = context
		}
	}
}

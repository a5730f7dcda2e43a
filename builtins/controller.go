package builtins

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["controller"] = doc.Builtin("k8s.controller", controllerDoc, controllerBuiltin)
	K8s.Members["cached"] = doc.Builtin("k8s.cached", cachedDoc, cachedBuiltin)
}

// informerCluster is what k8s.controller and k8s.cached need of a cluster
// beyond Cluster: kube.Client implements it.
type informerCluster interface {
	Resolve(kind string) (kube.Resource, error)
	Informers() *kube.Informers
}

var _ informerCluster = (*kube.Client)(nil)

const controllerDoc = `k8s.controller(kind, reconcile, *, owns=(), resync="10m", workers=1, namespace=None, all_namespaces=False, selector=None, name=None, context=None)

Registers a controller, the pattern of controller-runtime: reconcile(obj,
key) is called for each object of kind when it is created, changed or
deleted, when an object of a kind in owns that it owns (through
metadata.ownerReferences) changes, and every resync. Returns the
controller (a k8s.controller: .name, .kind, .count of reconciles,
.errors, .queue of keys waiting, .running, .stop()).

A script registers its controllers at its top level; k8sh run SCRIPT runs
them as a long-lived process (docs/reactive.md: health checks, leader
election, shutdown on SIGTERM); k8s.run() runs them too, beside the
handlers of k8s.on, until k8s.stop() (a reconcile may call it), its
timeout, Ctrl-C or --timeout:
  def reconcile(d, key):
      if d == None:
          return                      # deleted: the garbage collector removes what it owned
      k8s.apply(pdb_for(d), force=True, field_manager="pdb-controller")
  k8s.controller("deployments", reconcile, owns=["poddisruptionbudgets"], workers=5)

obj is a copy of the object as the cache holds it (without managedFields),
or None when it is gone (deleted, or no longer selected); key is
"namespace/name" ("name" for a cluster-scoped kind). reconcile's answer:
None (or False) when done; True to be called again after a backoff; a
duration ("30s", or seconds) to be called again after it. An error (a
failed builtin, fail()) is printed and the key is retried after a backoff
that doubles at each failure in a row, from about 0.5 s up to 5 min, with
jitter; k8sh -v logs every reconcile and each backoff.

Every controller of a session shares one cache per kind (one list+watch
each: client-go's informers); k8s.cached reads it without a request. Keys
are queued (client-go's work queue): one key is never reconciled twice at
once, and the changes made while it is reconciled make one more call.
workers is how many keys are reconciled at once, each on a thread of its
own. To make that safe, the controller freezes, when it starts, every
value reconcile can reach (the script's globals, which the end of its top
level freezes anyway, and the variables of enclosing functions): shared
state belongs in the cluster. Reconciles run with the session's safety
policy and no prompt: a protected context refuses their changes unless
k8sh was given --yes.

owns is a list of kinds; an object of one whose ownerReferences name an
object of kind (same API group and Kind) queues that owner's key. owned
kinds are watched in the controller's namespace, in all namespaces when
kind is cluster-scoped. resync queues every key again that often ("0" for
never). name names the controller in logs (kind's resource by default).

` + selectionDoc

const cachedDoc = `k8s.cached(kind, name=None, *, namespace=None, all_namespaces=False, selector=None, context=None)

Reads from the session's shared informer cache, the one its controllers
use: with a name, that object (a copy of it, without managedFields) or
None when the cache has none; without one, the list of those that match.
The first read of a kind in a namespace starts a list+watch of it and
waits until it has synced; later reads cost no request and see every
change the watch has delivered (a moment behind the server).
  pdb = k8s.cached("pdb", d.metadata.name, namespace=d.metadata.namespace)
  web = k8s.cached("pods", selector={"app": "web"})

An informer of all namespaces that a controller started answers the
reads of any namespace. ` + selectionDoc

// reconcileKey is the thread local that marks a reconcile's thread.
const reconcileKey = "k8sh.reconcile"

func controllerBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sel       selection
		target    starlark.Value
		reconcile starlark.Callable
		owns      starlark.Value = starlark.Tuple{}
		resync                   = watchDuration{d: 10 * time.Minute, set: true}
		workers                  = 1
		name      string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &target, "reconcile", &reconcile, "owns?", &owns, "resync?", &resync, "workers?", &workers,
		"namespace?", starconv.OrNone(&sel.namespace), "all_namespaces?", &sel.allNamespaces,
		"selector?", &sel.selector, "name?", starconv.OrNone(&name), "context?", starconv.OrNone(&sel.context)); err != nil {
		return nil, err
	}
	if thread.Local(reconcileKey) != nil {
		return nil, fmt.Errorf("%s: cannot be called from a reconcile", b.Name())
	}
	if err := sel.ref(b, target); err != nil {
		return nil, err
	}
	if sel.name != "" {
		return nil, fmt.Errorf("%s: a controller watches a kind, not one object (got %s/%s)", b.Name(), sel.kind, sel.name)
	}
	if workers < 1 {
		return nil, fmt.Errorf("%s: workers=%d: want at least 1", b.Name(), workers)
	}
	if err := checkReconcile(reconcile); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if _, err := labels.Parse(sel.selector.s); err != nil {
		return nil, fmt.Errorf("%s: bad selector %q: %v", b.Name(), sel.selector.s, err)
	}
	ownKinds, err := kindList(owns)
	if err != nil {
		return nil, fmt.Errorf("%s: owns: %w", b.Name(), err)
	}
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	ic, c, err := clusterAs[informerCluster](thread, b, sel.context, "this session's cluster has no informer cache")
	if err != nil {
		return nil, err
	}
	r, err := ic.Resolve(sel.kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ctl := &Controller{
		kind: r, opts: sel.options(), reconcile: reconcile, resync: resync.d, workers: workers,
		cluster: c, informers: ic.Informers(), session: s, print: thread.Print,
		done: make(chan struct{}), active: map[string]int{},
	}
	if !r.Namespaced {
		ctl.opts.Namespace, ctl.opts.AllNamespaces = "", false
	} else if !ctl.opts.AllNamespaces && ctl.opts.Namespace == "" {
		if ctl.opts.Namespace, err = c.Namespace(); err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
	}
	for _, k := range ownKinds {
		or, err := ic.Resolve(k)
		if err != nil {
			return nil, fmt.Errorf("%s: owns: %w", b.Name(), err)
		}
		ctl.owns = append(ctl.owns, or)
	}
	ctl.name = name
	if ctl.name == "" {
		ctl.name = r.String()
	}
	ctl.set = Controllers(s)
	ctl.set.add(ctl)
	return ctl, nil
}

// checkReconcile fails when fn cannot be called as fn(obj, key).
func checkReconcile(fn starlark.Callable) error {
	f, ok := fn.(*starlark.Function)
	if !ok {
		return nil
	}
	positional := f.NumParams() - f.NumKwonlyParams()
	if f.HasVarargs() {
		positional--
	}
	if f.HasKwargs() {
		positional--
	}
	required := 0
	for i := range positional {
		if f.ParamDefault(i) == nil {
			required++
		}
	}
	if (positional < 2 && !f.HasVarargs()) || required > 2 {
		return fmt.Errorf("reconcile %s takes %d positional parameters; it is called as reconcile(obj, key)", f.Name(), positional)
	}
	return nil
}

// kindList is owns=: a kind or a list or tuple of kinds.
func kindList(v starlark.Value) ([]string, error) {
	if s, ok := v.(starlark.String); ok {
		return []string{string(s)}, nil
	}
	it, ok := v.(starlark.Iterable)
	if !ok {
		return nil, fmt.Errorf("got %s, want a list of kinds", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		s, ok := starlark.AsString(x)
		if !ok {
			return nil, fmt.Errorf("got %s in the list, want str (a kind)", x.Type())
		}
		out = append(out, s)
	}
	return out, nil
}

// ControllerLog says where a session's controllers report: failed
// reconciles always, every reconcile with Verbose (k8sh -v).
type ControllerLog struct {
	// W receives the lines; nil for the session's stderr (sys.eprint's).
	W io.Writer
	// Verbose logs each reconcile, its duration and each requeue.
	Verbose bool
	// JSON writes one JSON object a line (--log-format json).
	JSON bool
	// FormatError formats a reconcile's error (with its traceback); nil
	// for its message.
	FormatError func(error) string
}

// ControllerSet is the controllers a session registered.
type ControllerSet struct {
	mu   sync.Mutex
	list []*Controller
	// caches are the clusters whose informers k8s.cached started.
	caches map[Cluster]bool
	log    ControllerLog
	w      io.Writer
	json   *slog.Logger
	outMu  sync.Mutex // serializes the log and the reconciles' print()
}

var controllerSets = struct {
	sync.Mutex
	m map[*Session]*ControllerSet
}{m: map[*Session]*ControllerSet{}}

// Controllers returns the controllers session s registered (k8s.controller).
func Controllers(s *Session) *ControllerSet {
	controllerSets.Lock()
	defer controllerSets.Unlock()
	cs := controllerSets.m[s]
	if cs == nil {
		cs = &ControllerSet{}
		cs.SetLog(ControllerLog{W: s.Sys.Stderr})
		controllerSets.m[s] = cs
	}
	return cs
}

// EndControllers stops the controllers of s at once (in-flight reconciles
// are cancelled), waits for them, and stops the informers they and
// k8s.cached started.
func EndControllers(s *Session) {
	controllerSets.Lock()
	cs := controllerSets.m[s]
	delete(controllerSets.m, s)
	controllerSets.Unlock()
	if cs == nil {
		return
	}
	cs.Cancel()
	cs.Wait(context.Background())
	cs.mu.Lock()
	clusters := map[Cluster]bool{}
	maps.Copy(clusters, cs.caches)
	cs.mu.Unlock()
	for _, c := range cs.List() {
		clusters[c.cluster] = true
	}
	for c := range clusters {
		if ic, ok := c.(interface{ CloseInformers() }); ok {
			ic.CloseInformers()
		}
	}
}

// usesCache records that k8s.cached started informers of c.
func (cs *ControllerSet) usesCache(c Cluster) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.caches == nil {
		cs.caches = map[Cluster]bool{}
	}
	cs.caches[c] = true
}

// SetLog sets where the controllers report.
func (cs *ControllerSet) SetLog(l ControllerLog) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.log = l
	cs.w = l.W
	if cs.w == nil {
		cs.w = io.Discard
	}
	cs.json = nil
	if l.JSON {
		cs.json = slog.New(slog.NewJSONHandler(cs.w, nil))
	}
}

func (cs *ControllerSet) add(c *Controller) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	cs.list = append(cs.list, c)
}

// List is the controllers, in the order they were registered.
func (cs *ControllerSet) List() []*Controller {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	return append([]*Controller(nil), cs.list...)
}

// Prepare starts the informers of every controller and waits until they
// have synced (or ctx ends), without reconciling: a process that waits to
// lead keeps its caches warm.
func (cs *ControllerSet) Prepare(ctx context.Context) error {
	for _, c := range cs.List() {
		if err := c.Prepare(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Start starts every controller (Controller.Start).
func (cs *ControllerSet) Start(ctx context.Context) error {
	for _, c := range cs.List() {
		if err := c.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

// startControllers starts the controllers of s that k8s.controller
// registered and nothing started yet, for k8s.run: each is a task of bg,
// so that k8s.run waits for it and k8s.stop(), k8s.run's timeout, Ctrl-C
// and --timeout stop it (its reconciles in flight finish first). Their
// reconciles run on threads of their own, in parallel with the handlers of
// k8s.on, on the values Start froze.
func startControllers(ctx context.Context, s *Session, bg *Background) error {
	for _, c := range Controllers(s).List() {
		c.mu.Lock()
		fresh := !c.started && !c.stopped
		c.mu.Unlock()
		if !fresh {
			continue
		}
		if err := c.Start(ctx); err != nil {
			return err
		}
		bg.Add(&Task{Name: "controller " + c.Name(), Stop: c.Stop, Done: c.Done()})
	}
	return nil
}

// Ran tells whether a controller of the set was started.
func (cs *ControllerSet) Ran() bool {
	for _, c := range cs.List() {
		c.mu.Lock()
		started := c.started
		c.mu.Unlock()
		if started {
			return true
		}
	}
	return false
}

// Synced tells whether every controller's informers have synced.
func (cs *ControllerSet) Synced() bool {
	for _, c := range cs.List() {
		if !c.Synced() {
			return false
		}
	}
	return true
}

// Stop stops every controller gracefully (Controller.Stop).
func (cs *ControllerSet) Stop() {
	for _, c := range cs.List() {
		c.Stop()
	}
}

// Cancel stops every controller and cancels the reconciles in flight.
func (cs *ControllerSet) Cancel() {
	for _, c := range cs.List() {
		c.Cancel()
	}
}

// Wait waits until every controller is done (Controller.Done) or ctx ends.
func (cs *ControllerSet) Wait(ctx context.Context) error {
	for _, c := range cs.List() {
		select {
		case <-c.Done():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// logf writes a line of text (without -v's JSON), or a JSON record of msg
// and attrs.
func (cs *ControllerSet) logf(verbose bool, c *Controller, msg string, attrs []any, text string) {
	cs.mu.Lock()
	l, w, j := cs.log, cs.w, cs.json
	cs.mu.Unlock()
	if verbose && !l.Verbose {
		return
	}
	cs.outMu.Lock()
	defer cs.outMu.Unlock()
	if j != nil {
		level := slog.LevelInfo
		if !verbose {
			level = slog.LevelError // a failed or cancelled reconcile
		}
		j.Log(context.Background(), level, msg, append([]any{"controller", c.name}, attrs...)...)
		return
	}
	fmt.Fprintf(w, "k8sh: controller %s: %s\n", c.name, text)
}

func (cs *ControllerSet) formatError(err error) string {
	cs.mu.Lock()
	f := cs.log.FormatError
	cs.mu.Unlock()
	if f == nil {
		return err.Error()
	}
	return strings.TrimRight(f(err), "\n")
}

// Controller is a registered controller (k8s.controller) and its Starlark
// value. Its life: Prepare (informers synced), Start (reconciles),
// Stop (no new work; in-flight reconciles finish), Cancel (and they are
// cancelled), Done (closed when its last reconcile has returned).
type Controller struct {
	name      string
	kind      kube.Resource
	opts      kube.ListOptions
	owns      []kube.Resource
	reconcile starlark.Callable
	resync    time.Duration
	workers   int
	cluster   Cluster
	informers *kube.Informers
	session   *Session
	set       *ControllerSet
	print     func(*starlark.Thread, string)

	mu        sync.Mutex
	primary   *kube.Informer
	owned     []*kube.Informer
	started   bool
	stopped   bool
	queue     *kube.Queue
	removes   []func()
	stopTick  chan struct{}
	wg        sync.WaitGroup
	runCtx    context.Context
	cancelRun context.CancelFunc
	rs        *Session // the reconciles' session
	done      chan struct{}
	stopping  atomic.Bool

	count, errors atomic.Int64

	activeMu  sync.Mutex
	active    map[string]int // reconciles in flight, by key
	inFlight  int
	overlaps  int // reconciles that began while another of their key ran
	maxFlight int
}

var (
	_ starlark.HasAttrs = (*Controller)(nil)
)

// Name is the controller's name in logs.
func (c *Controller) Name() string { return c.name }

// Prepare starts the controller's informers (its kind's and its owned
// kinds') and waits until they have synced or ctx ends. A 401 or 403 is an
// error at once.
func (c *Controller) Prepare(ctx context.Context) error {
	c.mu.Lock()
	if c.primary == nil {
		p, err := c.informers.For(c.kind, c.opts.Namespace, c.opts.LabelSelector)
		if err != nil {
			c.mu.Unlock()
			return fmt.Errorf("controller %s: %w", c.name, err)
		}
		var owned []*kube.Informer
		for _, o := range c.owns {
			ns := c.opts.Namespace // "" for all namespaces, and when kind is cluster-scoped
			inf, err := c.informers.For(o, ns, "")
			if err != nil {
				c.mu.Unlock()
				return fmt.Errorf("controller %s: owns %s: %w", c.name, o, err)
			}
			owned = append(owned, inf)
		}
		c.primary, c.owned = p, owned
	}
	infs := append([]*kube.Informer{c.primary}, c.owned...)
	c.mu.Unlock()
	for _, inf := range infs {
		if err := inf.WaitSynced(ctx); err != nil {
			return fmt.Errorf("controller %s: %s: %w", c.name, inf.Resource, err)
		}
	}
	return nil
}

// Synced tells whether the controller's informers have synced.
func (c *Controller) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.primary == nil {
		return false
	}
	for _, inf := range append([]*kube.Informer{c.primary}, c.owned...) {
		if !inf.Synced() {
			return false
		}
	}
	return true
}

// Start prepares the controller, freezes what reconcile can reach and
// starts its workers: every object the cache holds is queued, then every
// change. It runs until Stop or Cancel, or until ctx ends (as Cancel).
func (c *Controller) Start(ctx context.Context) error {
	if err := c.Prepare(ctx); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.started {
		return fmt.Errorf("controller %s: already started", c.name)
	}
	if c.stopped {
		return fmt.Errorf("controller %s: stopped", c.name)
	}
	// Reconciles run on several threads at once: what they can reach must
	// not change under them. A script's globals are frozen already when
	// its top level has run; this freezes them in any case (the REPL's),
	// with the defaults and the enclosing functions' variables that
	// reconcile closes over.
	c.reconcile.Freeze()
	if f, ok := c.reconcile.(*starlark.Function); ok {
		f.Globals().Freeze()
	}
	rs := *c.session
	rs.Cluster = c.cluster
	rs.Confirm = nil // no prompt from the background: a protected context needs --yes
	rs.Announce = nil
	rs.Terminal = nil
	c.rs = &rs
	c.queue = kube.NewQueue(c.name)
	c.runCtx, c.cancelRun = context.WithCancel(ctx)
	context.AfterFunc(c.runCtx, c.Cancel)

	enqueue := func(u *unstructured.Unstructured) { c.queue.Add(kube.Key(u.GetNamespace(), u.GetName())) }
	remove, err := c.primary.OnChange(enqueue)
	if err != nil {
		c.cancelRun()
		return fmt.Errorf("controller %s: %w", c.name, err)
	}
	c.removes = append(c.removes, remove)
	owner := c.kind.GVK.GroupKind()
	for _, inf := range c.owned {
		remove, err := inf.OnChange(func(u *unstructured.Unstructured) {
			for _, ref := range u.GetOwnerReferences() {
				if schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).GroupKind() != owner {
					continue
				}
				ns := u.GetNamespace()
				if !c.kind.Namespaced {
					ns = ""
				}
				c.queue.Add(kube.Key(ns, ref.Name))
			}
		})
		if err != nil {
			c.cancelRun()
			return fmt.Errorf("controller %s: %w", c.name, err)
		}
		c.removes = append(c.removes, remove)
	}
	c.started = true
	c.stopTick = make(chan struct{})
	if c.resync > 0 {
		go c.resyncLoop(c.resync, c.stopTick)
	}
	what := c.kind.String()
	if c.opts.Namespace != "" {
		what += " in namespace " + c.opts.Namespace
	}
	if c.opts.LabelSelector != "" {
		what += " (" + c.opts.LabelSelector + ")"
	}
	for i, o := range c.owns {
		if i == 0 {
			what += ", owning "
		} else {
			what += ", "
		}
		what += o.String()
	}
	c.set.logf(true, c, "controller started", []any{"kind", c.kind.String(), "namespace", c.opts.Namespace, "workers", c.workers},
		fmt.Sprintf("started: %s; %d worker%s", what, c.workers, map[bool]string{true: "", false: "s"}[c.workers == 1]))
	c.wg.Add(c.workers)
	for n := 1; n <= c.workers; n++ {
		go c.worker(n)
	}
	go func() {
		c.wg.Wait()
		close(c.done)
	}()
	return nil
}

func (c *Controller) resyncLoop(every time.Duration, stop chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			keys := c.primary.Keys()
			c.set.logf(true, c, "resync", []any{"keys", len(keys)}, fmt.Sprintf("resync: %d keys queued", len(keys)))
			for _, k := range keys {
				c.queue.Add(k)
			}
		}
	}
}

// Stop stops the controller gracefully: no event is queued any more, no
// queued key is reconciled, and the reconciles in flight finish; Done is
// closed when they have. It returns at once.
func (c *Controller) Stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return
	}
	c.stopped = true
	c.stopping.Store(true)
	if !c.started {
		close(c.done)
		return
	}
	for _, r := range c.removes {
		r()
	}
	close(c.stopTick)
	c.queue.ShutDown()
}

// Cancel stops the controller and cancels the reconciles in flight.
func (c *Controller) Cancel() {
	c.Stop()
	c.mu.Lock()
	cancel := c.cancelRun
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
}

// Done is closed once the controller is stopped and its last reconcile
// has returned.
func (c *Controller) Done() <-chan struct{} { return c.done }

// ControllerStats are a controller's counts.
type ControllerStats struct {
	Reconciles, Errors int64
	// Overlaps counts reconciles that began while another of the same key
	// was in flight (the work queue allows none); MaxParallel is the most
	// reconciles that were in flight at once.
	Overlaps, MaxParallel int
}

// Stats returns the controller's counts.
func (c *Controller) Stats() ControllerStats {
	c.activeMu.Lock()
	defer c.activeMu.Unlock()
	return ControllerStats{Reconciles: c.count.Load(), Errors: c.errors.Load(), Overlaps: c.overlaps, MaxParallel: c.maxFlight}
}

func (c *Controller) worker(n int) {
	defer c.wg.Done()
	for {
		key, shutdown := c.queue.Get()
		if shutdown {
			return
		}
		if !c.stopping.Load() {
			c.process(n, key)
		}
		c.queue.Done(key)
	}
}

func (c *Controller) enter(key string, worker int) {
	c.activeMu.Lock()
	if c.active[key] > 0 {
		c.overlaps++
	}
	c.active[key]++
	c.inFlight++
	c.maxFlight = max(c.maxFlight, c.inFlight)
	c.activeMu.Unlock()
	c.set.logf(true, c, "reconcile", []any{"key", key, "worker", worker}, fmt.Sprintf("reconcile %s (worker %d)", key, worker))
}

func (c *Controller) exit(key string) {
	c.activeMu.Lock()
	c.active[key]--
	if c.active[key] == 0 {
		delete(c.active, key)
	}
	c.inFlight--
	c.activeMu.Unlock()
}

// process reconciles key once, on a thread of its own.
func (c *Controller) process(worker int, key string) {
	var obj starlark.Value = starlark.None
	if u, ok := c.primary.Get(key); ok {
		obj = NewObject(u.Object)
	}
	thread := &starlark.Thread{
		Name: fmt.Sprintf("%s worker %d", c.name, worker),
		Print: func(t *starlark.Thread, msg string) {
			c.set.outMu.Lock()
			defer c.set.outMu.Unlock()
			if c.print != nil {
				c.print(t, msg)
			}
		},
	}
	SetSession(thread, c.rs)
	c.rs.Budget(thread)
	sys.SetContext(thread, c.runCtx)
	thread.SetLocal(reconcileKey, c)
	// Background work of the session (on.go): k8s.stop() ends its k8s.run,
	// k8s.run cannot be called from it, and the safety policy asks nothing.
	MarkBackground(thread, BackgroundOf(c.session))
	stop := context.AfterFunc(c.runCtx, func() { thread.Cancel("the controller was stopped") })
	c.enter(key, worker)
	start := time.Now()
	v, err := starlark.Call(thread, c.reconcile, starlark.Tuple{obj, starlark.String(key)}, nil)
	stop()
	d := time.Since(start)
	c.count.Add(1)
	var after time.Duration
	var again bool
	if err == nil {
		after, again, err = requeueOf(v)
	}
	ms := float64(d.Microseconds()) / 1000
	// Logged before exit: the line of a reconcile's end comes before the
	// line of the next reconcile of its key.
	switch {
	case err != nil:
		c.errors.Add(1)
		if c.runCtx.Err() != nil {
			c.set.logf(false, c, "reconcile cancelled", []any{"key", key, "error", err.Error()},
				fmt.Sprintf("reconcile %s cancelled: %s", key, c.set.formatError(err)))
			break
		}
		wait, attempt := c.queue.Retry(key)
		c.set.logf(false, c, "reconcile failed", []any{"key", key, "attempt", attempt, "retry_in", wait.String(), "duration_ms", ms, "error", err.Error()},
			fmt.Sprintf("reconcile %s failed (attempt %d; retrying in %s): %s", key, attempt, roundDuration(wait), c.set.formatError(err)))
	case again && after > 0:
		c.queue.Forget(key)
		c.queue.AddAfter(key, after)
		c.set.logf(true, c, "reconciled", []any{"key", key, "duration_ms", ms, "requeue_in", after.String()},
			fmt.Sprintf("reconciled %s in %.1f ms; again in %s (asked)", key, ms, after))
	case again:
		wait, attempt := c.queue.Retry(key)
		c.set.logf(true, c, "reconciled", []any{"key", key, "duration_ms", ms, "attempt", attempt, "retry_in", wait.String()},
			fmt.Sprintf("reconciled %s in %.1f ms; asked to retry (attempt %d; retrying in %s)", key, ms, attempt, roundDuration(wait)))
	default:
		c.queue.Forget(key)
		c.set.logf(true, c, "reconciled", []any{"key", key, "duration_ms", ms}, fmt.Sprintf("reconciled %s in %.1f ms", key, ms))
	}
	c.exit(key)
}

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// requeueOf reads reconcile's answer: None or False (done), True (again
// after a backoff) or a duration (again after it).
func requeueOf(v starlark.Value) (after time.Duration, again bool, err error) {
	switch v := v.(type) {
	case starlark.NoneType:
		return 0, false, nil
	case starlark.Bool:
		return 0, bool(v), nil
	case starlark.String, starlark.Int, starlark.Float:
		var d watchDuration
		if err := d.Unpack(v); err != nil {
			return 0, false, fmt.Errorf("reconcile returned %s: %v", v, err)
		}
		if d.d == 0 {
			return 0, true, nil
		}
		return d.d, true, nil
	}
	return 0, false, fmt.Errorf("reconcile returned a %s; want None, True (retry after a backoff) or a duration (\"30s\", seconds)", v.Type())
}

// The Starlark value.

func (c *Controller) String() string        { return fmt.Sprintf("<k8s.controller %s>", c.name) }
func (c *Controller) Type() string          { return "k8s.controller" }
func (c *Controller) Freeze()               {} // its state is the Go side's, behind locks
func (c *Controller) Truth() starlark.Bool  { return true }
func (c *Controller) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: k8s.controller") }

func (c *Controller) AttrNames() []string {
	return []string{"count", "errors", "kind", "name", "queue", "running", "stop"}
}

func (c *Controller) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(c.name), nil
	case "kind":
		return starlark.String(c.kind.String()), nil
	case "count":
		return starlark.MakeInt64(c.count.Load()), nil
	case "errors":
		return starlark.MakeInt64(c.errors.Load()), nil
	case "queue":
		c.mu.Lock()
		q := c.queue
		c.mu.Unlock()
		if q == nil {
			return starlark.MakeInt(0), nil
		}
		return starlark.MakeInt(q.Len()), nil
	case "running":
		c.mu.Lock()
		defer c.mu.Unlock()
		return starlark.Bool(c.started && !c.stopped), nil
	case "stop":
		return starlark.NewBuiltin("k8s.controller.stop", func(_ *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
			if err := starlark.UnpackArgs(b.Name(), args, kwargs); err != nil {
				return nil, err
			}
			c.Stop()
			return starlark.None, nil
		}), nil
	}
	return nil, nil
}

// k8s.cached

func cachedBuiltin(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		sel    selection
		target starlark.Value
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs,
		"kind", &target, "name?", starconv.OrNone(&sel.name), "namespace?", starconv.OrNone(&sel.namespace),
		"all_namespaces?", &sel.allNamespaces, "selector?", &sel.selector, "context?", starconv.OrNone(&sel.context)); err != nil {
		return nil, err
	}
	if err := sel.ref(b, target); err != nil {
		return nil, err
	}
	if sel.name != "" && (sel.allNamespaces || sel.selector.s != "") {
		return nil, fmt.Errorf("%s: all_namespaces and selector select a list; they cannot be used with a name", b.Name())
	}
	ls, err := labels.Parse(sel.selector.s)
	if err != nil {
		return nil, fmt.Errorf("%s: bad selector %q: %v", b.Name(), sel.selector.s, err)
	}
	ic, c, err := clusterAs[informerCluster](thread, b, sel.context, "this session's cluster has no informer cache")
	if err != nil {
		return nil, err
	}
	r, err := ic.Resolve(sel.kind)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	ns := ""
	if r.Namespaced && !sel.allNamespaces {
		if ns = sel.namespace; ns == "" {
			if ns, err = c.Namespace(); err != nil {
				return nil, fmt.Errorf("%s: %w", b.Name(), err)
			}
		}
	}
	if s, _ := thread.Local(sessionKey).(*Session); s != nil && thread.Local(reconcileKey) == nil {
		Controllers(s).usesCache(c) // closed at the end of the session (a reconcile's cluster is its controller's)
	}
	inf := ic.Informers().Covering(r, ns)
	if err := inf.WaitSynced(sys.Context(thread)); err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if sel.name != "" {
		u, ok := inf.Get(kube.Key(ns, sel.name))
		if !ok {
			return starlark.None, nil
		}
		return NewObject(u.Object), nil
	}
	var sl labels.Selector
	if !ls.Empty() {
		sl = ls
	}
	objs := inf.List(ns, sl)
	out := make([]starlark.Value, len(objs))
	for i, u := range objs {
		out[i] = NewObject(u.Object)
	}
	return starlark.NewList(out), nil
}

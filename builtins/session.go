// Package builtins holds what of k8sh's Starlark is about Kubernetes: the
// k8s and ctx modules, the k8s.object value, printing, the safety policy
// and the session; Globals adds the general-purpose modules of lib/.
//
// Builtins reach the cluster through the Session held on the Starlark
// thread (SetSession), the way go.starlark.net's lib/time reaches its clock.
package builtins

import (
	"context"
	"fmt"
	"time"

	starlarktime "go.starlark.net/lib/time"
	"go.starlark.net/starlark"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/file"
	"github.com/k8sh/k8sh/lib/sys"
)

// Cluster is what builtins need of one cluster: kube.Client implements it.
type Cluster interface {
	Context() (kube.ContextInfo, error)
	Namespace() (string, error)
	Get(ctx context.Context, kind, name, namespace string) (*unstructured.Unstructured, error)
	List(ctx context.Context, kind string, opts kube.ListOptions) (*unstructured.UnstructuredList, error)
	Exists(ctx context.Context, kind, name, namespace string) (bool, error)
	Resources() ([]kube.ResourceInfo, error)
	Events(ctx context.Context, kind, name, namespace string) ([]unstructured.Unstructured, error)
	// ListRows, ListRowsPage and GetRow read with the server's table rows
	// kept, for k8s.print; Kinds expands "deploy,svc" and categories.
	ListRows(ctx context.Context, kind string, opts kube.ListOptions) (*kube.RowList, error)
	ListRowsPage(ctx context.Context, kind string, opts kube.ListOptions, cont string, have int64) (*kube.RowList, error)
	GetRow(ctx context.Context, kind, name, namespace string) (*kube.RowList, error)
	Kinds(arg string) ([]string, error)
}

var _ Cluster = (*kube.Client)(nil)

// Session is the state a run of k8sh shares across its builtins.
type Session struct {
	// Cluster is the client of the session's current context.
	Cluster Cluster
	// ForContext returns the client of another kubeconfig context, for the
	// context= argument of the k8s builtins; nil when there is none.
	ForContext func(name string) (Cluster, error)
	// DryRun makes every mutating builtin a server-side dry run (--dry-run),
	// and is sys.dry_run.
	DryRun bool
	// Planner, when set, makes the run's requests a plan while one is
	// begun (k8s.plan, --plan): see kube.PlanRequests.
	Planner *kube.Planner
	// Unsent, when set, is told of each request a dry run does not send
	// at all (a command in a pod: the POST of its pods/exec or pods/attach),
	// for k8sh job, which derives a script's RBAC rules from its requests.
	Unsent func(method, path string)
	// Sys and File are the options of the run's sys and file modules
	// (lib/sys, lib/file); Globals gives Sys.DryRun the value of DryRun.
	Sys  sys.Options
	File file.Options

	// Contexts reaches the kubeconfig's contexts, for the ctx module.
	Contexts Contexts
	// Policy, ReadOnly (--read-only) and Yes (--yes) decide which changes
	// Mutating lets through; Confirm, set by the REPL, asks the user.
	Policy   *Policy
	ReadOnly bool
	Yes      bool
	Confirm  func(prompt string) (string, error)
	// Announce, set by the REPL, shows one line for each change made.
	Announce func(line string)
	// Terminal is the user's terminal, for k8s.shell and
	// k8s.attach(tty=True); nil when k8sh does not run on one.
	Terminal Terminal
	// Now, when set, is time.now's clock: a recording's (--record keeps
	// each time read) or a replay's (which gives them back).
	Now func() (time.Time, error)
	// Journal is the run's journal (kube/journal.go), for k8s.undo; nil
	// when the run keeps none (--replay).
	Journal *kube.Journal
	// MaxSteps (--max-steps) is the step budget of the script's thread
	// and, each its own, of every call made on another thread: a module's
	// load, a handler's call (k8s.on), a reconcile, a ctx.each function.
	// 0 is no limit.
	MaxSteps uint64
}

// Budget gives t, about to run one call, the session's step budget on top
// of the steps t has run so far (see MaxSteps).
func (s *Session) Budget(t *starlark.Thread) {
	if s != nil && s.MaxSteps > 0 {
		t.SetMaxExecutionSteps(t.ExecutionSteps() + s.MaxSteps)
	}
}

// Contexts is what the ctx module needs of the kubeconfig: kube.Clients.
type Contexts interface {
	Contexts() ([]kube.ContextInfo, error)
	// New returns a client of context name in namespace ns ("" for the
	// context's default).
	New(name, ns string) (*kube.Client, error)
}

const sessionKey = "k8sh.session"

// SetSession makes s the session of thread.
func SetSession(thread *starlark.Thread, s *Session) {
	thread.SetLocal(sessionKey, s)
	if s != nil && s.Now != nil {
		starlarktime.SetNow(thread, s.Now)
	}
}

func session(thread *starlark.Thread, b *starlark.Builtin) (*Session, error) {
	s, _ := thread.Local(sessionKey).(*Session)
	if s == nil {
		return nil, fmt.Errorf("%s: no k8sh session on this thread", b.Name())
	}
	return s, nil
}

func cluster(thread *starlark.Thread, b *starlark.Builtin) (Cluster, error) {
	return clusterFor(thread, b, "")
}

// clusterFor returns the client of kubeconfig context name, or of the
// session's current context when name is "".
func clusterFor(thread *starlark.Thread, b *starlark.Builtin, name string) (Cluster, error) {
	s, err := session(thread, b)
	if err != nil {
		return nil, err
	}
	if name != "" {
		if s.ForContext == nil {
			return nil, fmt.Errorf("%s: context=%q: no kubeconfig contexts in this session", b.Name(), name)
		}
		c, err := s.ForContext(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", b.Name(), err)
		}
		return c, nil
	}
	if s.Cluster == nil {
		return nil, fmt.Errorf("%s: no cluster configured", b.Name())
	}
	return s.Cluster, nil
}

// clusterAs returns the cluster of kubeconfig context name ("" for the
// session's) as the interface T that a builtin needs of it beside Cluster
// (Writer, ...), or the error cannot when it lacks it.
func clusterAs[T any](thread *starlark.Thread, b *starlark.Builtin, name, cannot string) (T, Cluster, error) {
	var zero T
	c, err := clusterFor(thread, b, name)
	if err != nil {
		return zero, nil, err
	}
	t, ok := c.(T)
	if !ok {
		return zero, nil, fmt.Errorf("%s: %s", b.Name(), cannot)
	}
	return t, c, nil
}

// InheritThread gives child the session and context of parent: a thread
// made for a module that parent loads.
func InheritThread(child, parent *starlark.Thread) {
	s, _ := parent.Local(sessionKey).(*Session)
	SetSession(child, s)
	sys.SetContext(child, sys.Context(parent))
	s.Budget(child)
}

package builtins

import (
	"fmt"
	"os"
	"path"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	"sigs.k8s.io/yaml"
)

// Policy says which kubeconfig contexts are protected (a change there must
// be confirmed) and which are read-only (no change at all), by context name
// patterns (path.Match globs: "prod-*"). It is read from
// $XDG_CONFIG_HOME/k8sh/config.yaml:
//
//	protected: ["prod-*"]
//	read_only: ["audit-*"]
//	contexts:
//	  "staging-eu": {protected: true, read_only: false}
//	journal: {secret_data: false, keep: 100}
type Policy struct {
	Protected []string                 `json:"protected,omitempty"`
	ReadOnly  []string                 `json:"read_only,omitempty"`
	Contexts  map[string]ContextPolicy `json:"contexts,omitempty"`
	// Journal is the settings of the journal that undo reads (undo.go).
	Journal JournalConfig `json:"journal,omitempty"`
}

// ContextPolicy is the policy of the contexts one pattern matches.
type ContextPolicy struct {
	Protected bool `json:"protected,omitempty"`
	ReadOnly  bool `json:"read_only,omitempty"`
}

// LoadPolicy reads the config file at p; a missing file is an empty policy.
func LoadPolicy(p string) (*Policy, error) {
	data, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		return &Policy{}, nil
	}
	if err != nil {
		return nil, err
	}
	var pol Policy
	if err := yaml.UnmarshalStrict(data, &pol); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	for _, pat := range pol.patterns() {
		if _, err := path.Match(pat, ""); err != nil {
			return nil, fmt.Errorf("%s: bad context pattern %q: %w", p, pat, err)
		}
	}
	return &pol, nil
}

func (p *Policy) patterns() []string {
	out := append(append([]string{}, p.Protected...), p.ReadOnly...)
	for pat := range p.Contexts {
		out = append(out, pat)
	}
	return out
}

func matchAny(pats []string, name string) bool {
	for _, pat := range pats {
		if ok, _ := path.Match(pat, name); ok {
			return true
		}
	}
	return false
}

// IsProtected tells whether a change in context name must be confirmed.
func (p *Policy) IsProtected(name string) bool {
	if p == nil {
		return false
	}
	if matchAny(p.Protected, name) {
		return true
	}
	for pat, cp := range p.Contexts {
		if ok, _ := path.Match(pat, name); ok && cp.Protected {
			return true
		}
	}
	return false
}

// IsReadOnly tells whether context name takes no change at all.
func (p *Policy) IsReadOnly(name string) bool {
	if p == nil {
		return false
	}
	if matchAny(p.ReadOnly, name) {
		return true
	}
	for pat, cp := range p.Contexts {
		if ok, _ := path.Match(pat, name); ok && cp.ReadOnly {
			return true
		}
	}
	return false
}

// Mutating is what every builtin that changes a cluster calls before it
// sends anything: what describes the change ("apply deployment/web",
// "delete 3 pods"), c is the cluster it goes to, dryRun whether it is a
// server-side dry run. It fails when the context is read-only (--read-only
// or the config), and when it is protected unless the run said --yes
// (K8SH_YES=1) or, in the REPL, the user types the context's name (never
// from background work: a handler's change is refused there).
func Mutating(thread *starlark.Thread, b *starlark.Builtin, c Cluster, what string, dryRun bool) error {
	s, err := session(thread, b)
	if err != nil {
		return err
	}
	info, err := c.Context()
	if err != nil {
		return fmt.Errorf("%s: %w", b.Name(), err)
	}
	name := info.Name
	if s.ReadOnly || s.Policy.IsReadOnly(name) {
		why := "--read-only"
		if !s.ReadOnly {
			why = "read_only in the k8sh config"
		}
		return fmt.Errorf("%s: context %q is read-only (%s): refusing to %s", b.Name(), name, why, what)
	}
	if dryRun || s.Yes || !s.Policy.IsProtected(name) {
		return nil
	}
	if inBackground(thread) {
		return fmt.Errorf("%s: context %q is protected: refusing to %s in %s/%s from a background handler (k8s.on) without --yes (or K8SH_YES=1): a handler cannot ask for confirmation", b.Name(), name, what, name, info.Namespace)
	}
	if s.Confirm == nil {
		return fmt.Errorf("%s: context %q is protected: refusing to %s in %s/%s without --yes (or K8SH_YES=1)", b.Name(), name, what, name, info.Namespace)
	}
	answer, err := s.Confirm(fmt.Sprintf("context %q is protected. To %s in %s/%s, type the context's name: ", name, what, name, info.Namespace))
	if err != nil || answer != name {
		return fmt.Errorf("%s: not confirmed: nothing was changed in context %q", b.Name(), name)
	}
	return nil
}

// Announce tells the REPL user what a change did, one line per object in
// kubectl's words ("deployment.apps/web scaled"), followed by the context
// when it went to another one than the session's (context=). result is
// the value of the builtin that made the change: the REPL's echo prints
// nothing more of it (ChangeResult), as the lines said what it was (a
// change of no object, a delete whose selector matched nothing, echoes
// its value: []).
// Scripts and background work (k8s.on's handlers) say nothing.
func Announce(thread *starlark.Thread, c Cluster, lines []string, result starlark.Value) {
	s, _ := thread.Local(sessionKey).(*Session)
	if s == nil || s.Announce == nil || inBackground(thread) {
		return
	}
	if result != nil && len(lines) > 0 {
		rememberChange(thread, result)
	}
	where := ""
	if info, err := c.Context(); err == nil && s.Cluster != nil {
		if cur, err := s.Cluster.Context(); err == nil && cur.Name != info.Name {
			where = fmt.Sprintf(" (in context %q)", info.Name)
		}
	}
	for _, l := range lines {
		s.Announce(l + where)
	}
}

const changedKey = "k8sh.changed"

// rememberChange makes v a value ChangeResult knows: one that the lines of
// a change announced already (the list of k8s.drain's results, announced
// node by node).
func rememberChange(thread *starlark.Thread, v starlark.Value) {
	changed, _ := thread.Local(changedKey).([]starlark.Value)
	thread.SetLocal(changedKey, append(changed, v))
}

// BeginStatement starts a statement of the REPL: the values its changes
// return are the ones ChangeResult knows.
func BeginStatement(thread *starlark.Thread) {
	thread.SetLocal(changedKey, []starlark.Value(nil))
}

// ChangeResult tells whether v is what a change of the current statement
// returned (its object, its list), or a list of only such values: what
// Announce has already shown.
func ChangeResult(thread *starlark.Thread, v starlark.Value) bool {
	changed, _ := thread.Local(changedKey).([]starlark.Value)
	if len(changed) == 0 {
		return false
	}
	is := func(v starlark.Value) bool {
		for _, c := range changed {
			if same(c, v) {
				return true
			}
		}
		return false
	}
	if is(v) {
		return true
	}
	l, ok := v.(*starlark.List)
	if !ok || l.Len() == 0 {
		return false
	}
	for i := range l.Len() {
		if !is(l.Index(i)) {
			return false
		}
	}
	return true
}

// same tells whether a and b are the same Object or list (not equal ones).
func same(a, b starlark.Value) bool {
	switch a := a.(type) {
	case *Object:
		b, ok := b.(*Object)
		return ok && a == b
	case *starlark.List:
		b, ok := b.(*starlark.List)
		return ok && a == b
	case *starlarkstruct.Struct:
		b, ok := b.(*starlarkstruct.Struct)
		return ok && a == b
	}
	return false
}

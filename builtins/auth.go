package builtins

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"
	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/kubectl/pkg/describe"

	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/doc"
	"github.com/k8sh/k8sh/lib/starconv"
	"github.com/k8sh/k8sh/lib/sys"
)

func init() {
	K8s.Members["can_i"] = doc.Builtin("k8s.can_i", canIDoc, canI)
	K8s.Members["can_i_list"] = doc.Builtin("k8s.can_i_list", canIListDoc, canIList)
	K8s.Members["whoami"] = doc.Builtin("k8s.whoami", whoamiDoc, whoami)
}

// authCluster is what k8s.can_i and k8s.whoami need of a cluster:
// kube.Client implements it.
type authCluster interface {
	CanI(ctx context.Context, a kube.AccessCheck) (kube.AccessAnswer, error)
	WhoAmI(ctx context.Context) (authenticationv1.UserInfo, error)
	AccessRules(ctx context.Context, namespace string) ([]rbacv1.PolicyRule, *string, error)
}

var _ authCluster = (*kube.Client)(nil)

const canIDoc = `k8s.can_i(verb, kind, name=None, *, namespace=None, subresource=None, all_namespaces=False, context=None)

Tells whether the session's user may do verb on kind, as kubectl auth
can-i answers (a SelfSubjectAccessReview): True or False.
  k8s.can_i("create", "deploy")
  k8s.can_i("get", "pods", "web-5fc9", subresource="log")   # or "pods/web-5fc9"
  k8s.can_i("*", "*")                     # everything, everywhere
  k8s.can_i("get", "/logs")               # a non-resource URL
kind is what kubectl takes ("pods", "deploy", "deployments.apps", "*"); one
the server does not serve is asked about as given, with kubectl's warning
"the server doesn't have a resource type ...". The namespace is the
session's unless namespace= or all_namespaces=True says otherwise. A review
changes nothing: it works with --read-only and in read-only contexts.
context asks as the user of another kubeconfig context.`

func canI(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var (
		a     kube.AccessCheck
		nameV starlark.Value = starlark.None
		kctx  string
	)
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "verb", &a.Verb, "kind", &a.Resource, "name?", &nameV,
		"namespace?", starconv.OrNone(&a.Namespace), "subresource?", starconv.OrNone(&a.Subresource),
		"all_namespaces?", &a.AllNamespaces, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	name, err := optionalName(b, nameV)
	if err != nil {
		return nil, err
	}
	a.Name = name
	if k, n, ok := strings.Cut(a.Resource, "/"); ok && k != "" {
		// kubectl's "verb resource/name".
		if name != "" {
			return nil, fmt.Errorf("%s: got %q and name=%q: give the name once", b.Name(), a.Resource, name)
		}
		a.Resource, a.Name = k, n
	}
	if a.Verb == "" || a.Resource == "" {
		return nil, fmt.Errorf("%s: give a verb and a kind, got %q and %q", b.Name(), a.Verb, a.Resource)
	}
	ac, _, err := clusterAs[authCluster](thread, b, kctx, "this cluster cannot review access")
	if err != nil {
		return nil, err
	}
	ans, err := ac.CanI(sys.Context(thread), a)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if ans.Unknown != "" {
		gr := strings.SplitN(strings.ToLower(ans.Unknown), ".", 2)
		if len(gr) == 1 {
			warn(thread, fmt.Sprintf("the server doesn't have a resource type '%s'", gr[0]))
		} else {
			warn(thread, fmt.Sprintf("the server doesn't have a resource type '%s' in group '%s'", gr[0], gr[1]))
		}
	}
	return starlark.Bool(ans.Allowed), nil
}

const canIListDoc = `k8s.can_i_list(namespace=None, context=None)

Returns what the session's user may do in namespace (the session's by
default), as kubectl auth can-i --list finds it (a SelfSubjectRulesReview,
its rules broken down and compacted as kubectl does): a list of rules, each
with resources, api_groups, non_resource_urls, resource_names and verbs
(lists of str), which the REPL and print show as kubectl's table:
  Resources   Non-Resource URLs   Resource Names   Verbs
  pods        []                  []               [get list watch]
When the server cannot tell everything it warns, as kubectl does, "the list
may be incomplete: ...". It changes nothing. context asks as the user of
another kubeconfig context.`

func canIList(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var ns, kctx string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "namespace?", starconv.OrNone(&ns), "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	ac, _, err := clusterAs[authCluster](thread, b, kctx, "this cluster cannot review access")
	if err != nil {
		return nil, err
	}
	rules, incomplete, err := ac.AccessRules(sys.Context(thread), ns)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	if incomplete != nil {
		warn(thread, "the list may be incomplete: "+*incomplete)
	}
	elems := make([]starlark.Value, len(rules))
	for i, r := range rules {
		elems[i] = starlarkstruct.FromStringDict(starlark.String("k8s.rule"), starlark.StringDict{
			"resources":         starconv.ToStarlark(stringsAny(r.Resources)),
			"api_groups":        starconv.ToStarlark(stringsAny(r.APIGroups)),
			"non_resource_urls": starconv.ToStarlark(stringsAny(r.NonResourceURLs)),
			"resource_names":    starconv.ToStarlark(stringsAny(r.ResourceNames)),
			"verbs":             starconv.ToStarlark(stringsAny(r.Verbs)),
		})
	}
	list := starlark.NewList(elems)
	list.Freeze()
	return &accessRules{List: list, rules: rules}, nil
}

// accessRules is k8s.can_i_list's value: a list of rules that shows as
// kubectl auth can-i --list's table.
type accessRules struct {
	*starlark.List
	rules []rbacv1.PolicyRule
}

func (a *accessRules) Type() string { return "k8s.rules" }

// String is kubectl auth can-i --list's table, without its last line break.
func (a *accessRules) String() string {
	var sb strings.Builder
	w := printers.GetNewTabWriter(&sb)
	fmt.Fprintf(w, "%s\n", strings.Join([]string{"Resources", "Non-Resource URLs", "Resource Names", "Verbs"}, "\t"))
	for _, r := range a.rules {
		fmt.Fprintf(w, "%s\t%v\t%v\t%v\n", describe.CombineResourceGroup(r.Resources, r.APIGroups), r.NonResourceURLs, r.ResourceNames, r.Verbs)
	}
	w.Flush()
	return strings.TrimSuffix(sb.String(), "\n")
}

const whoamiDoc = `k8s.whoami(context=None)

Returns who the server takes the session's user for, as kubectl auth
whoami asks (a SelfSubjectReview): a value with username, uid, groups (a
list) and extra (a dict of lists), which the REPL and print show as
kubectl's table:
  ATTRIBUTE   VALUE
  Username    admin
  Groups      [system:masters system:authenticated]
It changes nothing. context asks as the user of another kubeconfig context.`

func whoami(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var kctx string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, "context?", starconv.OrNone(&kctx)); err != nil {
		return nil, err
	}
	ac, _, err := clusterAs[authCluster](thread, b, kctx, "this cluster cannot review access")
	if err != nil {
		return nil, err
	}
	ui, err := ac.WhoAmI(sys.Context(thread))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b.Name(), err)
	}
	return &userInfo{ui}, nil
}

// userInfo is k8s.whoami's value.
type userInfo struct{ ui authenticationv1.UserInfo }

var _ starlark.HasAttrs = (*userInfo)(nil)

func (u *userInfo) Type() string          { return "k8s.user" }
func (u *userInfo) Freeze()               {}
func (u *userInfo) Truth() starlark.Bool  { return true }
func (u *userInfo) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable: %s", u.Type()) }
func (u *userInfo) AttrNames() []string   { return []string{"extra", "groups", "uid", "username"} }

func (u *userInfo) Attr(name string) (starlark.Value, error) {
	switch name {
	case "username":
		return starlark.String(u.ui.Username), nil
	case "uid":
		return starlark.String(u.ui.UID), nil
	case "groups":
		return starconv.ToStarlark(stringsAny(u.ui.Groups)), nil
	case "extra":
		d := starlark.NewDict(len(u.ui.Extra))
		for k, v := range u.ui.Extra {
			d.SetKey(starlark.String(k), starconv.ToStarlark(stringsAny(v)))
		}
		return d, nil
	}
	return nil, nil
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// String is kubectl auth whoami's table, without its last line break.
func (u *userInfo) String() string {
	var sb strings.Builder
	w := printers.GetNewTabWriter(&sb)
	fmt.Fprintf(w, "ATTRIBUTE\tVALUE\n")
	if u.ui.Username != "" {
		fmt.Fprintf(w, "Username\t%s\n", u.ui.Username)
	}
	if u.ui.UID != "" {
		fmt.Fprintf(w, "UID\t%s\n", u.ui.UID)
	}
	if len(u.ui.Groups) > 0 {
		fmt.Fprintf(w, "Groups\t%v\n", u.ui.Groups)
	}
	keys := make([]string, 0, len(u.ui.Extra))
	for k := range u.ui.Extra {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "Extra: %s\t%v\n", k, []string(u.ui.Extra[k]))
	}
	w.Flush()
	return strings.TrimSuffix(sb.String(), "\n")
}

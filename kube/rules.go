package kube

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"sigs.k8s.io/yaml"
)

// Rules are the RBAC rules a program needs: those of each namespace (a
// Role there) and those of the whole cluster (a ClusterRole: cluster-scoped
// kinds, calls across all namespaces, non-resource URLs). It is also the
// format of a file of rules given by hand (k8sh job --rules).
type Rules struct {
	Namespaces map[string][]rbacv1.PolicyRule `json:"namespaces,omitempty"`
	Cluster    []rbacv1.PolicyRule            `json:"cluster,omitempty"`
}

// Empty tells whether r grants nothing.
func (r Rules) Empty() bool {
	for _, rs := range r.Namespaces {
		if len(rs) > 0 {
			return false
		}
	}
	return len(r.Cluster) == 0
}

// NamespaceNames are the namespaces r has rules for, sorted.
func (r Rules) NamespaceNames() []string {
	var names []string
	for ns, rs := range r.Namespaces {
		if len(rs) > 0 {
			names = append(names, ns)
		}
	}
	sort.Strings(names)
	return names
}

// YAML is r as a file of rules.
func (r Rules) YAML() string {
	out, _ := yaml.Marshal(r)
	return string(out)
}

// APICall is one request a program made: its method, URL (path and
// query) and the Content-Type of its body.
type APICall struct {
	Method, URL, ContentType string
}

// Calls are the requests a cassette holds.
func (c *Cassette) Calls() []APICall {
	calls := make([]APICall, len(c.Interactions))
	for i, in := range c.Interactions {
		calls[i] = APICall{in.Request.Method, in.Request.URL, in.Request.ContentType}
	}
	return calls
}

// everyoneMay are the non-resource URLs that every authenticated user may
// get: the system:discovery and system:public-info-viewer ClusterRoles,
// bound to system:authenticated by default.
var everyoneMay = []string{"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/readyz", "/version", "/version/", "/openapi", "/openapi/*"}

// selfReviews are the resources every authenticated user may create
// (system:basic-user): the reviews of one's own access and identity, what
// k8s.can_i and k8s.whoami send.
var selfReviews = map[string]bool{
	"authorization.k8s.io/selfsubjectaccessreviews": true,
	"authorization.k8s.io/selfsubjectrulesreviews":  true,
	"authentication.k8s.io/selfsubjectreviews":      true,
}

// streamSubresources are the subresources of pods that open a stream
// (exec, attach, port-forward). A client opens them with a POST (SPDY,
// authorized as create) or a GET (WebSocket, authorized as get, and since
// Kubernetes 1.35 as create as well): their rules allow both, so that
// either way works.
var streamSubresources = map[string]bool{"pods/exec": true, "pods/attach": true, "pods/portforward": true}

// verbOrder is the order verbs are written in a rule: kubectl's.
var verbOrder = []string{"get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"}

// RulesFor are the rules that allow exactly the requests calls: for each
// request, the verb on its resource (with its subresource: pods/log,
// deployments/scale) in its namespace, or on its non-resource URL, as
// kube-apiserver's authorizer sees it (a server-side apply, which creates
// its object when it does not exist, is allowed create as well). Requests
// every authenticated user may make (discovery, /version, reviews of one's
// own access) need no rule. Rules do not name objects (resourceNames): a name one run meets (a pod)
// is another in the next, and list, watch and create cannot be limited by
// name.
func RulesFor(calls []APICall) (Rules, error) {
	type key struct{ scope, group, resource string }
	verbs := map[key]sets.Set[string]{}
	nonResource := map[string]sets.Set[string]{}
	for _, c := range calls {
		u, err := url.Parse(c.URL)
		if err != nil {
			return Rules{}, fmt.Errorf("%s %s: %v", c.Method, c.URL, err)
		}
		info, err := requestInfo.NewRequestInfo(&http.Request{Method: c.Method, URL: u})
		if err != nil {
			return Rules{}, fmt.Errorf("%s %s: %v", c.Method, c.URL, err)
		}
		if !info.IsResourceRequest {
			if !allowedToEveryone(info.Path) {
				if nonResource[info.Path] == nil {
					nonResource[info.Path] = sets.New[string]()
				}
				nonResource[info.Path].Insert(info.Verb)
			}
			continue
		}
		resource := info.Resource
		if info.Subresource != "" {
			resource += "/" + info.Subresource
		}
		if selfReviews[info.APIGroup+"/"+resource] {
			continue
		}
		k := key{info.Namespace, info.APIGroup, resource}
		if verbs[k] == nil {
			verbs[k] = sets.New[string]()
		}
		verbs[k].Insert(info.Verb)
		if info.APIGroup == "" && streamSubresources[resource] {
			verbs[k].Insert("get", "create")
		}
		if info.Verb == "patch" && info.Subresource == "" && strings.HasPrefix(c.ContentType, "application/apply-patch") {
			verbs[k].Insert("create") // a server-side apply creates what does not exist, and needs create for it
		}
	}
	// One rule per scope, API group and set of verbs, naming the resources.
	type ruleKey struct{ scope, group, verbs string }
	resources := map[ruleKey][]string{}
	for k, vs := range verbs {
		rk := ruleKey{k.scope, k.group, strings.Join(sortVerbs(vs), ",")}
		resources[rk] = append(resources[rk], k.resource)
	}
	var r Rules
	for rk, res := range resources {
		sort.Strings(res)
		rule := rbacv1.PolicyRule{APIGroups: []string{rk.group}, Resources: res, Verbs: strings.Split(rk.verbs, ",")}
		if rk.scope == "" {
			r.Cluster = append(r.Cluster, rule)
			continue
		}
		if r.Namespaces == nil {
			r.Namespaces = map[string][]rbacv1.PolicyRule{}
		}
		r.Namespaces[rk.scope] = append(r.Namespaces[rk.scope], rule)
	}
	paths := map[string][]string{}
	for p, vs := range nonResource {
		v := strings.Join(sortVerbs(vs), ",")
		paths[v] = append(paths[v], p)
	}
	for v, ps := range paths {
		sort.Strings(ps)
		r.Cluster = append(r.Cluster, rbacv1.PolicyRule{NonResourceURLs: ps, Verbs: strings.Split(v, ",")})
	}
	sortRules(r.Cluster)
	for _, rs := range r.Namespaces {
		sortRules(rs)
	}
	return r, nil
}

func allowedToEveryone(path string) bool {
	for _, p := range everyoneMay {
		if p == path || strings.HasSuffix(p, "*") && strings.HasPrefix(path, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// sortVerbs orders verbs as kubectl writes them, others after in
// alphabetical order.
func sortVerbs(vs sets.Set[string]) []string {
	out := sets.List(vs)
	rank := func(v string) int {
		if i := slices.Index(verbOrder, v); i >= 0 {
			return i
		}
		return len(verbOrder)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

// sortRules orders rules by API group, then resource (non-resource URLs
// last).
func sortRules(rs []rbacv1.PolicyRule) {
	first := func(r rbacv1.PolicyRule) string {
		if len(r.NonResourceURLs) > 0 {
			return "\xff" + r.NonResourceURLs[0]
		}
		return strings.Join(r.APIGroups, ",") + "\x00" + r.Resources[0]
	}
	sort.Slice(rs, func(i, j int) bool { return first(rs[i]) < first(rs[j]) })
}

// ParseRules reads a file of rules (path names it in errors): the YAML of
// Rules (namespaces: {NS: [rule...]}, cluster: [rule...]), or a list of
// rules alone, which are namespace's.
func ParseRules(data []byte, path, namespace string) (Rules, error) {
	var r Rules
	var list []rbacv1.PolicyRule
	if err := yaml.UnmarshalStrict(data, &list); err == nil {
		r.Namespaces = map[string][]rbacv1.PolicyRule{namespace: list}
	} else if err := yaml.UnmarshalStrict(data, &r); err != nil {
		return Rules{}, fmt.Errorf("%s: want a list of rules, or namespaces: {NAMESPACE: [rules]} and cluster: [rules]: %v", path, err)
	}
	check := func(where string, rs []rbacv1.PolicyRule, cluster bool) error {
		for i, rule := range rs {
			switch {
			case len(rule.Verbs) == 0:
				return fmt.Errorf("%s: %s rule %d: it names no verbs", path, where, i+1)
			case len(rule.NonResourceURLs) > 0 && !cluster:
				return fmt.Errorf("%s: %s rule %d: nonResourceURLs go in the cluster's rules", path, where, i+1)
			case len(rule.NonResourceURLs) > 0 && len(rule.Resources) > 0:
				return fmt.Errorf("%s: %s rule %d: a rule names resources or nonResourceURLs, not both", path, where, i+1)
			case len(rule.NonResourceURLs) == 0 && (len(rule.Resources) == 0 || len(rule.APIGroups) == 0):
				return fmt.Errorf("%s: %s rule %d: it needs apiGroups and resources (or nonResourceURLs)", path, where, i+1)
			}
		}
		return nil
	}
	for ns, rs := range r.Namespaces {
		if err := check("namespace "+ns, rs, false); err != nil {
			return Rules{}, err
		}
	}
	if err := check("cluster", r.Cluster, true); err != nil {
		return Rules{}, err
	}
	return r, nil
}

// CopyFlags copies the user's kubeconfig flags, context and namespace
// included, without their cached loaders nor the clients made from them:
// a run of its own (k8sh job's trial run under a recording) on the same
// cluster as the same user.
func CopyFlags(base *genericclioptions.ConfigFlags) *genericclioptions.ConfigFlags {
	f := forContext(base, "")
	f.Context, f.Namespace = base.Context, base.Namespace
	return f
}

package kube

import (
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/restmapper"
)

// Resource is a kind resolved against the cluster's discovery data.
type Resource struct {
	GVR        schema.GroupVersionResource
	GVK        schema.GroupVersionKind
	Namespaced bool
}

// String names the resource as kubectl prints it: "deployments.apps", "pods".
func (r Resource) String() string {
	return r.GVR.GroupResource().String()
}

// Resolve turns what a user types for a kind into a resource, the way kubectl
// does: plural, singular, short name or Kind ("pods", "pod", "po", "Pod"),
// optionally qualified by group or version and group ("deployments.apps",
// "deployment.v1.apps"), CRDs included. A name the cached discovery data does
// not know triggers one fresh discovery, so a CRD created a moment ago
// resolves. An unknown kind fails with the closest names the cluster has.
func (c *Client) Resolve(kind string) (Resource, error) {
	if err := c.init(); err != nil {
		return Resource{}, err
	}
	kind = strings.TrimSpace(kind)
	if kind == "" {
		return Resource{}, fmt.Errorf("empty kind")
	}
	r, gen, ok := c.resolvedKind(kind)
	if ok {
		return r, nil
	}
	// The deferred mapper rediscovers by itself on a miss when its data came
	// from the disk cache (not Fresh). When this client fetched it earlier, a
	// CRD made since is unknown to it: look again, once.
	// On this client's first lookup the data is either read now from the
	// server or from disk, where the mapper retries by itself.
	retry := c.resolved.Swap(true) && c.discovery.Fresh()
	m, err := mappingFor(c.mapper, kind)
	if err != nil && meta.IsNoMatchError(err) && retry {
		c.rediscover()
		_, gen, _ = c.resolvedKind(kind)
		m, err = mappingFor(c.mapper, kind)
	}
	if err != nil {
		if meta.IsNoMatchError(err) {
			return Resource{}, c.unknownKind(kind)
		}
		return Resource{}, apiError(err, "")
	}
	r = resourceOf(m)
	c.catMu.Lock()
	if c.kinds == nil {
		c.kinds = map[string]Resource{}
	}
	if gen == c.discoGen { // not rediscovered meanwhile
		c.kinds[kind] = r
	}
	c.catMu.Unlock()
	return r, nil
}

// resolvedKind is what Resolve made of kind before, since discovery was
// last invalidated (Client.kinds), and the count of invalidations.
func (c *Client) resolvedKind(kind string) (Resource, uint64, bool) {
	c.catMu.Lock()
	defer c.catMu.Unlock()
	r, ok := c.kinds[kind]
	return r, c.discoGen, ok
}

// rediscover forgets what this client knows of the server's kinds (the
// discovery cache, the REST mapper, the category expansions), to read it
// again at the next lookup: after a miss, or after CRDs were applied.
func (c *Client) rediscover() {
	c.discovery.Invalidate()
	c.mapper.Reset()
	c.catMu.Lock()
	c.categories, c.kinds = nil, nil
	c.discoGen++
	c.catMu.Unlock()
}

// categoryExpansion is what kubectl's category expander made of a name.
type categoryExpansion struct {
	resources []schema.GroupResource
	ok        bool // the name is a category
}

// expandCategory is restmapper's DiscoveryCategoryExpander's Expand of
// name, made once until discovery is invalidated (Client.categories).
func (c *Client) expandCategory(name string) ([]schema.GroupResource, bool) {
	c.catMu.Lock()
	e, done := c.categories[name]
	c.catMu.Unlock()
	if done {
		return e.resources, e.ok
	}
	e.resources, e.ok = restmapper.NewDiscoveryCategoryExpander(c.discovery).Expand(name)
	c.catMu.Lock()
	if c.categories == nil {
		c.categories = map[string]categoryExpansion{}
	}
	c.categories[name] = e
	c.catMu.Unlock()
	return e.resources, e.ok
}

// resourceOf is the Resource of a REST mapping.
func resourceOf(m *meta.RESTMapping) Resource {
	return Resource{
		GVR:        m.Resource,
		GVK:        m.GroupVersionKind,
		Namespaced: m.Scope.Name() == meta.RESTScopeNameNamespace,
	}
}

// mappingFor is kubectl's resolution order (cli-runtime resource.Builder):
// first as a resource (plural, singular, short name), then as a Kind.
func mappingFor(mapper meta.RESTMapper, arg string) (*meta.RESTMapping, error) {
	fullGVR, gr := schema.ParseResourceArg(arg)
	var gvk schema.GroupVersionKind
	if fullGVR != nil {
		gvk, _ = mapper.KindFor(*fullGVR)
	}
	if gvk.Empty() {
		gvk, _ = mapper.KindFor(gr.WithVersion(""))
	}
	if !gvk.Empty() {
		return mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	fullGVK, gk := schema.ParseKindArg(arg)
	if fullGVK == nil {
		v := gk.WithVersion("")
		fullGVK = &v
	}
	if !fullGVK.Empty() {
		if m, err := mapper.RESTMapping(fullGVK.GroupKind(), fullGVK.Version); err == nil {
			return m, nil
		}
	}
	return mapper.RESTMapping(gk)
}

// Names lists every name a kind can be given on this cluster: plural
// (group-qualified where the group is not core), singular, short names and
// Kind. It is what completion and "did you mean" draw from.
func (c *Client) Names() ([]string, error) {
	rs, err := c.Resources()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	for _, r := range rs {
		add(r.Name)
		if r.Group != "" {
			add(r.Name + "." + r.Group)
		}
		add(r.Singular)
		add(r.Kind)
		for _, s := range r.ShortNames {
			add(s)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (c *Client) unknownKind(kind string) error {
	// kubectl's words (cli-runtime's Builder): a group-qualified name is
	// named as its resource in its group.
	msg := fmt.Sprintf("the server doesn't have a resource type %q", kind)
	if _, gr := schema.ParseResourceArg(kind); gr.Group != "" {
		msg = fmt.Sprintf("the server doesn't have a resource type %q in group %q", gr.Resource, gr.Group)
	}
	names, err := c.Names()
	if err != nil {
		return fmt.Errorf("%s", msg)
	}
	if near := Closest(kind, names, 3); len(near) > 0 {
		msg += fmt.Sprintf(" (did you mean %s?)", strings.Join(quoteAll(near), ", "))
	}
	return fmt.Errorf("%s", msg)
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// Closest returns up to max candidates nearest to s by edit distance
// (case-insensitive), nearest first, only those near enough to be a typo or a
// prefix of what was meant.
func Closest(s string, candidates []string, max int) []string {
	type scored struct {
		name string
		d    int
	}
	ls := strings.ToLower(s)
	var hits []scored
	for _, c := range candidates {
		lc := strings.ToLower(c)
		d := levenshtein(ls, lc)
		if strings.HasPrefix(lc, ls) && len(ls) >= 2 {
			d = 1
		}
		if d <= 1+len(ls)/3 {
			hits = append(hits, scored{c, d})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].d != hits[j].d {
			return hits[i].d < hits[j].d
		}
		return hits[i].name < hits[j].name
	})
	var out []string
	for _, h := range hits {
		if len(out) == max {
			break
		}
		out = append(out, h.name)
	}
	return out
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// Kinds splits what a user types for the kinds of a list as kubectl get
// does: kinds separated by commas ("deploy,svc"), each one a kind or a
// category the cluster's resources declare ("all": pods, services,
// deployments.apps, ...; a CRD's own categories), which is expanded into its
// resources in discovery order. A category is looked up before a kind of
// the same name, as kubectl does. Each kind is returned as given or as
// "resource.group" for a category's members; a kind that occurs twice is
// kept once.
func (c *Client) Kinds(arg string) ([]string, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	for _, k := range strings.Split(arg, ",") {
		k = strings.TrimSpace(k)
		if k == "" {
			return nil, fmt.Errorf("empty kind in %q", arg)
		}
		if grs, ok := c.expandCategory(k); ok {
			for _, gr := range grs {
				add(gr.String())
			}
			continue
		}
		add(k)
	}
	return out, nil
}

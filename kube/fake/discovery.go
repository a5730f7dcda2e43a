package fake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// builtinDiscovery is kube-apiserver 1.37's aggregated discovery of its
// built-in groups, as the sandbox serves it (/api first, then /apis);
// TestDiscoveryFile keeps it so (-update writes it anew).
//
//go:embed discovery.json
var builtinDiscovery []byte

// serverVersion is what /version answers.
const serverVersion = `{"major":"1","minor":"37","gitVersion":"v1.37.2","gitTreeState":"clean","platform":"linux/amd64"}`

// discoveryFile is the content of discovery.json.
type discoveryFile struct {
	Core   apidiscoveryv2.APIGroupDiscoveryList `json:"core"`
	Groups apidiscoveryv2.APIGroupDiscoveryList `json:"groups"`
}

// resource is what the fake knows of a resource: its discovery entry.
type resource struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
	verbs      []string
	subs       map[string]bool // status, scale, ...
	crd        bool            // served for a CustomResourceDefinition
}

func (r *resource) gvk() schema.GroupVersionKind { return r.gvr.GroupVersion().WithKind(r.kind) }

func (r *resource) allows(verb string) bool {
	for _, v := range r.verbs {
		if v == verb {
			return true
		}
	}
	return false
}

// discovery is the fake's API surface: the built-in groups and those of
// the CRDs it holds.
type discovery struct {
	core   apidiscoveryv2.APIGroupDiscoveryList
	groups apidiscoveryv2.APIGroupDiscoveryList  // built-in ones
	crds   map[string]*unstructured.Unstructured // by name
	byGVR  map[schema.GroupVersionResource]*resource
}

func newDiscovery() (*discovery, error) {
	var f discoveryFile
	if err := json.Unmarshal(builtinDiscovery, &f); err != nil {
		return nil, fmt.Errorf("discovery.json: %w", err)
	}
	d := &discovery{core: f.Core, groups: f.Groups, crds: map[string]*unstructured.Unstructured{}}
	d.index()
	return d, nil
}

// index rebuilds byGVR from the discovery documents and the CRDs.
func (d *discovery) index() {
	d.byGVR = map[schema.GroupVersionResource]*resource{}
	for _, list := range []apidiscoveryv2.APIGroupDiscoveryList{d.core, d.groups, d.crdGroups()} {
		for _, g := range list.Items {
			for _, v := range g.Versions {
				for _, r := range v.Resources {
					gvr := schema.GroupVersionResource{Group: g.Name, Version: v.Version, Resource: r.Resource}
					res := &resource{gvr: gvr, namespaced: r.Scope == apidiscoveryv2.ScopeNamespace, verbs: r.Verbs, subs: map[string]bool{}}
					if r.ResponseKind != nil {
						res.kind = r.ResponseKind.Kind
					}
					for _, s := range r.Subresources {
						res.subs[s.Subresource] = true
					}
					_, res.crd = d.crds[r.Resource+"."+g.Name]
					d.byGVR[gvr] = res
				}
			}
		}
	}
}

// crdGroups are the discovery documents of the CRDs held, a group each.
func (d *discovery) crdGroups() apidiscoveryv2.APIGroupDiscoveryList {
	byGroup := map[string]*apidiscoveryv2.APIGroupDiscovery{}
	names := make([]string, 0, len(d.crds))
	for n := range d.crds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		crd := d.crds[n].Object
		group, _, _ := unstructured.NestedString(crd, "spec", "group")
		plural, _, _ := unstructured.NestedString(crd, "spec", "names", "plural")
		singular, _, _ := unstructured.NestedString(crd, "spec", "names", "singular")
		kind, _, _ := unstructured.NestedString(crd, "spec", "names", "kind")
		shorts, _, _ := unstructured.NestedStringSlice(crd, "spec", "names", "shortNames")
		cats, _, _ := unstructured.NestedStringSlice(crd, "spec", "names", "categories")
		scope, _, _ := unstructured.NestedString(crd, "spec", "scope")
		versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
		g := byGroup[group]
		if g == nil {
			g = &apidiscoveryv2.APIGroupDiscovery{ObjectMeta: metav1.ObjectMeta{Name: group}}
			byGroup[group] = g
		}
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			if served, _, _ := unstructured.NestedBool(vm, "served"); !served {
				continue
			}
			name, _, _ := unstructured.NestedString(vm, "name")
			rd := apidiscoveryv2.APIResourceDiscovery{
				Resource:         plural,
				ResponseKind:     &metav1.GroupVersionKind{Group: group, Version: name, Kind: kind},
				Scope:            apidiscoveryv2.ScopeCluster,
				SingularResource: singular,
				Verbs:            []string{"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"},
				ShortNames:       shorts,
				Categories:       cats,
			}
			if scope == "Namespaced" {
				rd.Scope = apidiscoveryv2.ScopeNamespace
			}
			if _, ok, _ := unstructured.NestedMap(vm, "subresources", "status"); ok {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: "status", ResponseKind: rd.ResponseKind, Verbs: []string{"get", "patch", "update"}})
			}
			if _, ok, _ := unstructured.NestedMap(vm, "subresources", "scale"); ok {
				rd.Subresources = append(rd.Subresources, apidiscoveryv2.APISubresourceDiscovery{
					Subresource: "scale", ResponseKind: &metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}, Verbs: []string{"get", "patch", "update"}})
			}
			var gv *apidiscoveryv2.APIVersionDiscovery
			for i := range g.Versions {
				if g.Versions[i].Version == name {
					gv = &g.Versions[i]
				}
			}
			if gv == nil {
				g.Versions = append(g.Versions, apidiscoveryv2.APIVersionDiscovery{Version: name, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent})
				gv = &g.Versions[len(g.Versions)-1]
			}
			gv.Resources = append(gv.Resources, rd)
		}
	}
	var out apidiscoveryv2.APIGroupDiscoveryList
	groups := make([]string, 0, len(byGroup))
	for g, d := range byGroup {
		groups = append(groups, g)
		// The apiserver lists a CRD group's versions by version priority
		// (v1, v1beta1, v1alpha1, ...): the first is the preferred one.
		sort.SliceStable(d.Versions, func(i, j int) bool {
			return version.CompareKubeAwareVersionStrings(d.Versions[i].Version, d.Versions[j].Version) > 0
		})
	}
	sort.Strings(groups)
	for _, g := range groups {
		out.Items = append(out.Items, *byGroup[g])
	}
	return out
}

// setCRD records (or, with nil, forgets) the CRD called name.
func (d *discovery) setCRD(name string, crd *unstructured.Unstructured) {
	if crd == nil {
		delete(d.crds, name)
	} else {
		d.crds[name] = crd
	}
	d.index()
}

// resourceFor finds the resource of a kind, for objects given to the fake
// (by apiVersion and kind).
func (d *discovery) resourceFor(gvk schema.GroupVersionKind) (*resource, bool) {
	var best *resource
	for _, r := range d.byGVR {
		if r.gvr.Group == gvk.Group && r.gvr.Version == gvk.Version && r.kind == gvk.Kind && !strings.Contains(r.gvr.Resource, "/") {
			if best == nil || r.gvr.Resource < best.gvr.Resource {
				best = r
			}
		}
	}
	return best, best != nil
}

const aggregatedType = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// serve answers discovery requests: /api and /apis, aggregated when the
// client asks for it (client-go does), else the legacy documents, and the
// resource lists of each group version.
func (d *discovery) serve(w http.ResponseWriter, r *http.Request) bool {
	path := strings.TrimSuffix(r.URL.Path, "/")
	aggregated := strings.Contains(r.Header.Get("Accept"), "as=APIGroupDiscoveryList")
	parts := strings.Split(strings.TrimPrefix(path, "/"), "/")
	switch {
	case path == "/api" && aggregated:
		writeJSONType(w, aggregatedType, withKind(d.core))
	case path == "/apis" && aggregated:
		all := d.groups
		all.Items = append(append([]apidiscoveryv2.APIGroupDiscovery(nil), d.groups.Items...), d.crdGroups().Items...)
		writeJSONType(w, aggregatedType, withKind(all))
	case path == "/api":
		writeJSON(w, http.StatusOK, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{{ClientCIDR: "0.0.0.0/0", ServerAddress: "127.0.0.1:6443"}}})
	case path == "/apis":
		list := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
		for _, g := range append(append([]apidiscoveryv2.APIGroupDiscovery(nil), d.groups.Items...), d.crdGroups().Items...) {
			ag := metav1.APIGroup{Name: g.Name}
			for _, v := range g.Versions {
				gv := metav1.GroupVersionForDiscovery{GroupVersion: g.Name + "/" + v.Version, Version: v.Version}
				ag.Versions = append(ag.Versions, gv)
			}
			if len(ag.Versions) > 0 {
				ag.PreferredVersion = ag.Versions[0]
			}
			list.Groups = append(list.Groups, ag)
		}
		writeJSON(w, http.StatusOK, list)
	case len(parts) == 2 && parts[0] == "api":
		d.writeResourceList(w, "", parts[1])
	case len(parts) == 3 && parts[0] == "apis":
		d.writeResourceList(w, parts[1], parts[2])
	default:
		return false
	}
	return true
}

func withKind(l apidiscoveryv2.APIGroupDiscoveryList) *apidiscoveryv2.APIGroupDiscoveryList {
	l.Kind, l.APIVersion = "APIGroupDiscoveryList", "apidiscovery.k8s.io/v2"
	return &l
}

// writeResourceList writes the legacy APIResourceList of group/version.
func (d *discovery) writeResourceList(w http.ResponseWriter, group, version string) {
	gv := schema.GroupVersion{Group: group, Version: version}
	list := &metav1.APIResourceList{TypeMeta: metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"}, GroupVersion: gv.String()}
	found := false
	for _, l := range []apidiscoveryv2.APIGroupDiscoveryList{d.core, d.groups, d.crdGroups()} {
		for _, g := range l.Items {
			if g.Name != group {
				continue
			}
			for _, v := range g.Versions {
				if v.Version != version {
					continue
				}
				found = true
				for _, r := range v.Resources {
					kind := ""
					if r.ResponseKind != nil {
						kind = r.ResponseKind.Kind
					}
					list.APIResources = append(list.APIResources, metav1.APIResource{
						Name: r.Resource, SingularName: r.SingularResource, Namespaced: r.Scope == apidiscoveryv2.ScopeNamespace,
						Kind: kind, Verbs: r.Verbs, ShortNames: r.ShortNames, Categories: r.Categories,
					})
					for _, s := range r.Subresources {
						list.APIResources = append(list.APIResources, metav1.APIResource{
							Name: r.Resource + "/" + s.Subresource, Namespaced: r.Scope == apidiscoveryv2.ScopeNamespace, Kind: kind, Verbs: s.Verbs,
						})
					}
				}
			}
		}
	}
	if !found {
		writeStatus(w, notFoundPath())
		return
	}
	writeJSON(w, http.StatusOK, list)
}

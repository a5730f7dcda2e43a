package kube

import (
	"net/http"
	"net/url"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/endpoints/request"
)

// requestInfo parses a request as kube-apiserver does for its authorizer:
// the one reading of an API path in k8sh (the journal, plans and the rules
// of k8sh job all go through it).
var requestInfo = &request.RequestInfoFactory{
	APIPrefixes:          sets.NewString("api", "apis"),
	GrouplessAPIPrefixes: sets.NewString("api"),
}

// apiTarget is what a resource request's path names.
type apiTarget struct {
	prefix                                         string // the server's path before /api or /apis
	group, version, resource, sub, namespace, name string
}

func (t apiTarget) key() objKey   { return objKey{t.group, t.resource, t.namespace, t.name} }
func (t apiTarget) kind() kindKey { return kindKey{t.group, t.resource} }
func (t apiTarget) gr() schema.GroupResource {
	return schema.GroupResource{Group: t.group, Resource: t.resource}
}

// objectPath is the path of the object (without a subresource).
func (t apiTarget) objectPath() string {
	return t.collectionPath() + "/" + url.PathEscape(t.name)
}

// collectionPath is the path of the object's collection.
func (t apiTarget) collectionPath() string {
	p := t.prefix + "/api/" + t.version
	if t.group != "" {
		p = t.prefix + "/apis/" + t.group + "/" + t.version
	}
	if t.namespace != "" {
		p += "/namespaces/" + url.PathEscape(t.namespace)
	}
	return p + "/" + t.resource
}

// parseAPIPath reads a resource request's path (/api/v1/..., or
// /apis/GROUP/VERSION/..., after the server's own prefix if any) as
// kube-apiserver's RequestInfoFactory reads it. The subresource is the
// path's segment after the name (a proxy's further path is not kept). A
// path that names no resource (discovery, /version) gives false.
func parseAPIPath(p string) (apiTarget, bool) {
	var t apiTarget
	segs := strings.Split(strings.Trim(p, "/"), "/")
	i := slices.IndexFunc(segs, func(s string) bool { return s == "api" || s == "apis" })
	if i < 0 {
		return t, false
	}
	if i > 0 {
		t.prefix = "/" + strings.Join(segs[:i], "/")
	}
	// A POST, so that the factory does not read a list's query.
	info, err := requestInfo.NewRequestInfo(&http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/" + strings.Join(segs[i:], "/")}})
	if err != nil || !info.IsResourceRequest || info.Resource == "" {
		return apiTarget{}, false
	}
	t.group, t.version, t.resource, t.namespace, t.name, t.sub = info.APIGroup, info.APIVersion, info.Resource, info.Namespace, info.Name, info.Subresource
	if t.group == "" && t.resource == "namespaces" {
		// A namespace is not in itself: the factory names it as both.
		t.namespace = ""
	}
	return t, true
}

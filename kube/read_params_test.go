package kube

import (
	"net/url"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// TestListParamsAsVersioned: listParams makes the query VersionedParams
// makes, for the options k8sh sets and for others (which it hands to
// VersionedParams).
func TestListParamsAsVersioned(t *testing.T) {
	s := runtime.NewScheme()
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	content := rest.ClientContentConfig{ContentType: "application/json", Negotiator: runtime.NewClientNegotiator(serializer.NewCodecFactory(s).WithoutConversion(), schema.GroupVersion{})}
	base, _ := url.Parse("https://127.0.0.1:6443")
	req := func() *rest.Request {
		return rest.NewRequestWithClient(base, "", content, nil).Verb("GET").AbsPath("/api/v1/pods")
	}
	yes := true
	for _, lo := range []metav1.ListOptions{
		{}, {Limit: 500}, {Limit: 7, Continue: "abc=&x"}, {LabelSelector: "app in (a, b),!x", FieldSelector: "status.phase!=Running"},
		{LabelSelector: "a=b", FieldSelector: "c=d", Limit: 500, Continue: "tok"},
		{ResourceVersion: "0", Limit: 500}, {Watch: true, AllowWatchBookmarks: true, SendInitialEvents: &yes},
	} {
		want := req().VersionedParams(&lo, metav1.ParameterCodec).URL().String()
		if got := listParams(req(), lo).URL().String(); got != want {
			t.Errorf("%+v: %s, want %s", lo, got, want)
		}
	}
}

package fake

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/k8sh/k8sh/kube/kubetest"
)

var update = flag.Bool("update", false, "write discovery.json anew from the sandbox")

// TestDiscoveryFileE2E: discovery.json is the sandbox's kube-apiserver's
// aggregated discovery of its built-in groups (neither CRDs' groups nor the
// aggregated metrics.k8s.io). After a Kubernetes upgrade of the sandbox,
// `go test ./kube/fake -run TestDiscoveryFileE2E -update` writes it anew.
func TestDiscoveryFileE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion, cfg.APIPath = nil, ""
	cfg.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) apidiscoveryv2.APIGroupDiscoveryList {
		body, err := rc.Get().AbsPath(path).SetHeader("Accept", aggregatedType).Do(context.Background()).Raw()
		if err != nil {
			t.Fatal(err)
		}
		var l apidiscoveryv2.APIGroupDiscoveryList
		if err := json.Unmarshal(body, &l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	core, all := get("/api"), get("/apis")
	var groups apidiscoveryv2.APIGroupDiscoveryList
	groups.TypeMeta, groups.ListMeta = all.TypeMeta, all.ListMeta
	for _, g := range all.Items {
		if scheme.Scheme.IsGroupRegistered(g.Name) || g.Name == "apiextensions.k8s.io" || g.Name == "apiregistration.k8s.io" {
			groups.Items = append(groups.Items, g)
		}
	}
	want, err := json.MarshalIndent(discoveryFile{Core: core, Groups: groups}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	want = append(want, '\n')
	var have discoveryFile
	if err := json.Unmarshal(builtinDiscovery, &have); err != nil {
		t.Fatal(err)
	}
	canon, _ := json.MarshalIndent(have, "", " ")
	canon = append(canon, '\n')
	if *update {
		if err := os.WriteFile("discovery.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if !bytes.Equal(canon, want) {
		t.Errorf("discovery.json is not the sandbox's discovery: run go test ./kube/fake -run TestDiscoveryFileE2E -update")
	}
}

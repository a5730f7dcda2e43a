package main

import (
	"strings"
	"testing"
)

func TestParseGates(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"CBORServingAndStorage=true":             "CBORServingAndStorage=true",
		" B=false, A=true":                       "A=true,B=false",
		"CBORServingAndStorage=true,Other=false": "CBORServingAndStorage=true,Other=false",
		"Other=false,CBORServingAndStorage=true,": "",
	} {
		got, err := parseGates(in)
		if strings.HasSuffix(in, ",") {
			if err == nil {
				t.Errorf("parseGates(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("parseGates(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"CBOR", "CBOR=yes", "=true", "A=true;B=false", "--feature-gates=A=true"} {
		if _, err := parseGates(bad); err == nil || !strings.Contains(err.Error(), "-apiserver-feature-gates") {
			t.Errorf("parseGates(%q): %v, want an error naming the flag", bad, err)
		}
	}
}

// TestGatesRecorded checks that the gates go into kube-apiserver's flags
// only, are read back from a state, and that up refuses other gates than
// the sandbox has, only when the flag was given.
func TestGatesRecorded(t *testing.T) {
	e, err := newEnv(t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	p := &pki{dir: t.TempDir()}
	ports := map[string]int{}
	plain := &state{Components: e.components(p, ports)}
	if g := recordedGates(plain); g != "" {
		t.Fatalf("a sandbox started without gates records %q", g)
	}
	e.apiserverGates = "CBORServingAndStorage=true"
	gated := &state{Components: e.components(p, ports)}
	if g := recordedGates(gated); g != e.apiserverGates {
		t.Fatalf("recorded gates %q, want %q", g, e.apiserverGates)
	}
	for _, c := range gated.Components {
		for _, a := range c.Args {
			if strings.HasPrefix(a, gatesFlag) && c.Name != "kube-apiserver" {
				t.Errorf("%s got %s", c.Name, a)
			}
		}
	}
	if err := e.checkGates(plain); err != nil {
		t.Errorf("without the flag, up checks nothing: %v", err)
	}
	e.gatesGiven = true
	if err := e.checkGates(gated); err != nil {
		t.Errorf("the same gates: %v", err)
	}
	if err := e.checkGates(plain); err == nil || !strings.Contains(err.Error(), "feature gates none, not CBORServingAndStorage=true") {
		t.Errorf("other gates: %v", err)
	}
}

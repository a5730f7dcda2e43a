package main

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Feature gates of kube-apiserver for a sandbox of one's own: `sandboxctl
// -state DIR -apiserver-feature-gates CBORServingAndStorage=true up` starts
// a sandbox whose kube-apiserver runs with --feature-gates=... (issue 21
// measures the CBOR that kube-apiserver serves behind that alpha gate). The
// gates are recorded with kube-apiserver's flags in state.json: a resume and
// restart-apiserver keep them, and `up` without the flag resumes a sandbox
// with the gates it had. The default sandbox is started without the flag,
// so with kube-apiserver's default gates, as before.

// gateList matches kube-apiserver's --feature-gates syntax: Name=true|false,
// comma-separated.
var gateList = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*=(true|false)(,[A-Za-z][A-Za-z0-9]*=(true|false))*$`)

// parseGates checks a -apiserver-feature-gates value and returns it in a
// canonical form (sorted), "" for none.
func parseGates(s string) (string, error) {
	s = strings.ReplaceAll(strings.TrimSpace(s), " ", "")
	if s == "" {
		return "", nil
	}
	if !gateList.MatchString(s) {
		return "", fmt.Errorf("-apiserver-feature-gates %q: want Name=true|false[,Name=true|false...], as kube-apiserver's --feature-gates", s)
	}
	gates := strings.Split(s, ",")
	slices.Sort(gates)
	return strings.Join(gates, ","), nil
}

const gatesFlag = "--feature-gates="

// gatesArgs is the flag of kube-apiserver that turns gates on, none for "".
func gatesArgs(gates string) []string {
	if gates == "" {
		return nil
	}
	return []string{gatesFlag + gates}
}

// recordedGates is the --feature-gates value that s records for
// kube-apiserver, "" for none.
func recordedGates(s *state) string {
	for _, c := range s.Components {
		if c.Name != "kube-apiserver" {
			continue
		}
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, gatesFlag); ok {
				return v
			}
		}
	}
	return ""
}

// checkGates fails when the sandbox s records other kube-apiserver feature
// gates than -apiserver-feature-gates asks for (when it was given): the
// gates of a sandbox are chosen when it starts anew (up on nothing, reset).
func (e *env) checkGates(s *state) error {
	if !e.gatesGiven || s == nil {
		return nil
	}
	if have := recordedGates(s); have != e.apiserverGates {
		show := func(g string) string {
			if g == "" {
				return "none"
			}
			return g
		}
		return fmt.Errorf("the sandbox in %s runs kube-apiserver with feature gates %s, not %s: `reset` it with -apiserver-feature-gates to change them (its objects are lost), or use another -state DIR",
			e.stateDir, show(have), show(e.apiserverGates))
	}
	return nil
}

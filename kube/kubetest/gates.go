package kubetest

import "testing"

// CBORGate is the kube-apiserver feature gate under which it serves CBOR
// (KEP-4222; alpha, off by default, in 1.37).
const CBORGate = "CBORServingAndStorage=true"

// PrivateSandboxGates is PrivateSandbox with kube-apiserver's feature
// gates turned on (sandboxctl -apiserver-feature-gates GATES), such as
// CBORGate. The shared sandbox is started without feature gates.
func PrivateSandboxGates(t testing.TB, gates string) *Env {
	t.Helper()
	return privateSandbox(t, "-apiserver-feature-gates", gates)
}

// FillBench10k makes BenchNamespace of env hold the 10,000 ConfigMaps of
// Bench10k (on any sandbox: a private one too) and returns how many
// ConfigMaps the namespace holds in all.
func FillBench10k(tb testing.TB, env *Env) int {
	tb.Helper()
	total, err := ensureConfigMaps(env, benchData{BenchNamespace, BenchCount, benchValue})
	if err != nil {
		tb.Fatal(err)
	}
	return total
}

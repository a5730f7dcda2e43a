package repl

import "testing"

// TestCompleterRegexpsCompile compiles each of the completer's regular
// expressions, as init did before they became lazy: a bad one fails here,
// not at a user's first TAB.
func TestCompleterRegexpsCompile(t *testing.T) {
	for _, r := range []*lazyRegexp{
		reKindArg, reNameArg, reNodeArg, reLogsArg, reNSArg, reCtxArg, reNSValue, reNameKw,
		reKindCall, reChain, reIdent, reCallee, reChainPart, reCallChain, reNamedArgs,
	} {
		if re := r.get(); re == nil || re.String() != r.expr {
			t.Errorf("%q: compiled to %v", r.expr, re)
		}
	}
}

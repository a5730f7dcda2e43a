package repl

import (
	"regexp"
	"sync"
)

// lazyRegexp is a regular expression compiled on first use: the
// completer's expressions are compiled by the first completion, not by
// every k8sh process at init (a script or -c run never completes; compiling
// them all took 0.1-0.2 ms and 90 KB of k8sh's start, docs/performance.md,
// "Issue 21: startup"). Its methods are regexp.Regexp's.
type lazyRegexp struct {
	expr string
	once sync.Once
	re   *regexp.Regexp
}

// lazyRE returns expr, to be compiled (regexp.MustCompile) on first use.
func lazyRE(expr string) *lazyRegexp { return &lazyRegexp{expr: expr} }

func (r *lazyRegexp) get() *regexp.Regexp {
	r.once.Do(func() { r.re = regexp.MustCompile(r.expr) })
	return r.re
}

func (r *lazyRegexp) MatchString(s string) bool  { return r.get().MatchString(s) }
func (r *lazyRegexp) FindString(s string) string { return r.get().FindString(s) }
func (r *lazyRegexp) FindStringSubmatch(s string) []string {
	return r.get().FindStringSubmatch(s)
}
func (r *lazyRegexp) FindAllStringSubmatch(s string, n int) [][]string {
	return r.get().FindAllStringSubmatch(s, n)
}

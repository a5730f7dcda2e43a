// Package initgc turns the garbage collector off while k8sh's packages
// initialise, and gives the user's setting back when main starts.
//
// The packages k8sh is built on allocate about 3.6 MB in their init
// functions (client-go's and kubectl's schemes register every built-in API
// type twice over), and Go's first collection comes at a heap of 4 MB
// (GOGC=100; its trigger about 3 MB): without this package every run of
// k8sh, even `k8sh -c 'print(1)'`, collects once during init or just after
// it, for garbage that is mostly still live, about 2 ms of CPU of a 14 ms
// run (docs/performance.md, "Issue 21: startup").
//
// main imports this package; Go runs a package's init as soon as its
// dependencies (runtime/debug and the standard packages it needs) have
// run, before the packages whose import paths sort after it (all of
// k8s.io/... and sigs.k8s.io/...), so the collector is off from 0.6 MB of
// init on (GODEBUG=inittrace=1 shows the order).
//
// Restore, first thing in main, gives the collector back:
//   - GOGC set in the environment (any value, "off" too): exactly that
//     percentage, from main on.
//   - GOGC not set (Go's default, 100): 100, with one difference: the first
//     collection comes at a heap of FirstGoal instead of Go's 4 MB, so
//     that the 3.6 MB of init do not use up the minimum heap before the
//     program has allocated anything. After that first collection the
//     percentage is 100 and the minimum heap Go's 4 MB, as always.
//
// GOMEMLIMIT (debug.SetMemoryLimit) is never touched: a memory limit makes
// the collector run even while it is off, as it always does.
package initgc

import (
	"os"
	"runtime"
	"runtime/debug"
)

// FirstGoal is the heap at which the first collection comes when GOGC is
// not set: Go's minimum heap (4 MB at GOGC=100) times firstPercent/100.
const FirstGoal = 4 << 20 * firstPercent / 100

// firstPercent is the GC percentage until the first collection when GOGC
// is not set: Go scales its minimum heap (4 MB) by GOGC/100, so 400 puts
// the first collection at 16 MB, 12 MB above what init leaves.
const firstPercent = 400

// percent is the GC percentage in force before init turned it off: GOGC's,
// 100 by default, -1 for GOGC=off.
var percent = debug.SetGCPercent(-1)

// Restore gives back the GC percentage in force before init (see the
// package comment). Call it once, first thing in main.
func Restore() {
	_, set := os.LookupEnv("GOGC")
	restore(set)
}

// restore is Restore with whether GOGC is set in the environment.
func restore(gogcSet bool) {
	if gogcSet || percent != 100 {
		debug.SetGCPercent(percent)
		return
	}
	debug.SetGCPercent(firstPercent)
	// The cleanup of an object nothing points to runs after the first
	// collection that finds it unreachable: the first one from now.
	runtime.AddCleanup(new(sentinel), func(int) { debug.SetGCPercent(percent) }, 0)
}

// sentinel is big enough (and holds a pointer) not to be one of the tiny
// allocations Go packs several to a block, which live as long as the block.
type sentinel struct {
	_ *byte
	_ [24]byte
}

package initgc

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// current returns the GC percentage in force, leaving it as it is.
func current() int {
	p := debug.SetGCPercent(-1)
	debug.SetGCPercent(p)
	return p
}

// TestOffDuringInit: the init of this package turned the collector off;
// percent is what it was before (GOGC's, 100 when unset).
func TestOffDuringInit(t *testing.T) {
	if got := current(); got != -1 {
		t.Fatalf("GC percent after init = %d, want -1 (off)", got)
	}
	if percent == -1 {
		t.Skip("GOGC=off in the environment")
	}
	if percent <= 0 {
		t.Fatalf("percent before init = %d", percent)
	}
}

// TestRestore: with GOGC set, its value at once; without it, firstPercent
// until the first collection, then the percentage before init.
func TestRestore(t *testing.T) {
	saved := percent
	t.Cleanup(func() { percent = saved; debug.SetGCPercent(saved) })

	percent = 37 // as if GOGC=37
	restore(true)
	if got := current(); got != 37 {
		t.Fatalf("GOGC set: GC percent = %d, want 37", got)
	}

	percent = 100 // GOGC not set
	debug.SetGCPercent(-1)
	restore(false)
	if got := current(); got != firstPercent {
		t.Fatalf("GOGC not set, before the first collection: GC percent = %d, want %d", got, firstPercent)
	}
	deadline := time.Now().Add(5 * time.Second)
	for current() != 100 {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC not set, after collections: GC percent = %d, want 100", current())
		}
		runtime.GC()
		time.Sleep(time.Millisecond)
	}
}

package kubetest

import (
	"os"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		in := append([]float64(nil), c.xs...)
		if got := Median(c.xs); got != c.want {
			t.Errorf("Median(%v) = %v, want %v", c.xs, got, c.want)
		}
		for i := range in {
			if in[i] != c.xs[i] {
				t.Errorf("Median reordered its argument: %v", c.xs)
			}
		}
	}
}

// TestProcessCPU: this process's CPU time from /proc grows with work and
// is about what getrusage says (/proc counts in ticks of 10 ms); a process
// that is not there gives -1.
func TestProcessCPU(t *testing.T) {
	before := ProcessCPU(os.Getpid())
	if before < 0 {
		t.Fatal("ProcessCPU of this process: -1")
	}
	// 50 ms of CPU, however long the machine takes to give them.
	for start := SelfCPU(); SelfCPU()-start < 50*time.Millisecond; {
	}
	after, self := ProcessCPU(os.Getpid()), SelfCPU()
	if after-before < 30*time.Millisecond {
		t.Errorf("ProcessCPU grew less than 30 ms over 50 ms of CPU: %v, then %v", before, after)
	}
	if d := self - after; d < -20*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("ProcessCPU %v against getrusage %v", after, self)
	}
	if got := ProcessCPU(-5); got != -1 {
		t.Errorf("ProcessCPU of no process = %v, want -1", got)
	}
}

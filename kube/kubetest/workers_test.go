package kubetest

import (
	"errors"
	"sync/atomic"
	"testing"
)

func TestWorkers(t *testing.T) {
	var n atomic.Int64
	work, wait := workers(4)
	for i := range 100 {
		work <- func() error {
			n.Add(1)
			if i == 42 {
				return errors.New("the 42nd")
			}
			return nil
		}
	}
	if err := wait(); err == nil || err.Error() != "the 42nd" || n.Load() != 100 {
		t.Errorf("wait() = %v after %d calls; want the 42nd's error after 100", err, n.Load())
	}
	work, wait = workers(2)
	work <- func() error { return nil }
	if err := wait(); err != nil {
		t.Errorf("no error: %v", err)
	}
}

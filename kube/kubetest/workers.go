package kubetest

import "sync"

// workers runs each function sent on work on one of n goroutines; wait
// closes work, waits for them all and returns the first error one of the
// functions returned (nil when none did). The benchmark fills use it.
func workers(n int) (work chan<- func() error, wait func() error) {
	ch := make(chan func() error)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for f := range ch {
				if err := f(); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		}()
	}
	return ch, func() error {
		close(ch)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	}
}

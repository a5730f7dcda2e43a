package builtins

import (
	"context"
	"fmt"
	"time"

	"go.starlark.net/starlark"
)

// streamIterator yields the items of a stream that a goroutine feeds (a
// watch, a followed log) until the stream ends, the timeout passes, Ctrl-C
// (ctx), or convert says the item was the last. A Starlark iterator cannot
// return an error, so a failure stops the program with its message instead
// of ending the loop as if the stream were done.
type streamIterator[T any] struct {
	b       *starlark.Builtin
	thread  *starlark.Thread
	ctx     context.Context
	items   <-chan T
	err     func() error // the stream's error, once items is closed
	stop    func()       // ends the stream and frees what it holds
	convert func(T) (v starlark.Value, last bool, err error)
	timer   *time.Timer
	fail    error // reported on the first Next
	ended   bool
}

// startTimer makes the pass end after timeout, when one was given.
func (it *streamIterator[T]) startTimer(timeout watchDuration) {
	if timeout.set {
		it.timer = time.NewTimer(timeout.d)
	}
}

func (it *streamIterator[T]) Next(v *starlark.Value) bool {
	if it.fail != nil {
		it.thread.Cancel(it.fail.Error())
		return false
	}
	if it.ended {
		return false
	}
	var timeout <-chan time.Time
	if it.timer != nil {
		timeout = it.timer.C
	}
	select {
	case item, ok := <-it.items:
		if !ok {
			it.end()
			if err := it.err(); err != nil {
				it.thread.Cancel(fmt.Sprintf("%s: %v", it.b.Name(), err))
			}
			return false
		}
		val, last, err := it.convert(item)
		if err != nil {
			it.end()
			it.thread.Cancel(err.Error())
			return false
		}
		if last {
			it.end() // this item is still yielded
		}
		*v = val
		return true
	case <-timeout:
	case <-it.ctx.Done():
		// Ctrl-C: stop the program here, not only this loop (whoever
		// cancelled the context may not have cancelled the thread yet).
		it.end()
		it.thread.Cancel("interrupted")
		return false
	}
	it.end()
	return false
}

// end stops the stream now: the loop may go on with the last item for a
// while, and the stream must not hold a connection meanwhile.
func (it *streamIterator[T]) end() {
	it.ended = true
	if it.stop != nil {
		it.stop()
	}
	if it.timer != nil {
		it.timer.Stop()
	}
}

func (it *streamIterator[T]) Done() { it.end() }

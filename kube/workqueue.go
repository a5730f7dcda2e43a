package kube

import (
	"math/rand/v2"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
)

// Queue is a controller's work queue of object keys (client-go's typed
// rate-limited work queue): a key added while it waits is there once, a
// key added while a worker has it is handed out again only after Done, so
// one key is never worked on by two workers at once and the changes that
// came meanwhile are worked on once. Retry puts a key back after a backoff
// that doubles with each failure in a row, with jitter.
type Queue struct {
	q       workqueue.TypedRateLimitingInterface[string]
	backoff *jitterBackoff
}

// Controller retry backoff: the n-th failure in a row of a key waits a
// time drawn from [d/2, d], d = RetryBase * 2^(n-1), at most RetryMax.
var (
	RetryBase = 500 * time.Millisecond
	RetryMax  = 5 * time.Minute
)

// NewQueue returns an empty queue; name names it in client-go's metrics.
func NewQueue(name string) *Queue {
	b := &jitterBackoff{base: RetryBase, max: RetryMax, failures: map[string]int{}}
	return &Queue{
		q:       workqueue.NewTypedRateLimitingQueueWithConfig[string](b, workqueue.TypedRateLimitingQueueConfig[string]{Name: name}),
		backoff: b,
	}
}

// Add queues key now.
func (q *Queue) Add(key string) { q.q.Add(key) }

// AddAfter queues key after d.
func (q *Queue) AddAfter(key string, d time.Duration) { q.q.AddAfter(key, d) }

// Retry queues key again after its backoff, and returns the wait and how
// many times in a row it has been retried (this one included).
func (q *Queue) Retry(key string) (time.Duration, int) {
	d := q.backoff.When(key)
	q.q.AddAfter(key, d)
	return d, q.backoff.NumRequeues(key)
}

// Forget ends key's run of failures: its next Retry waits the least.
func (q *Queue) Forget(key string) { q.q.Forget(key) }

// Get waits for a key and hands it out; shutdown is true once the queue is
// shut down and empty.
func (q *Queue) Get() (key string, shutdown bool) { return q.q.Get() }

// Done says the worker is finished with key.
func (q *Queue) Done(key string) { q.q.Done(key) }

// ShutDown makes Get return shutdown once the queue is empty; keys added
// afterwards are dropped.
func (q *Queue) ShutDown() { q.q.ShutDown() }

// Len is how many keys wait.
func (q *Queue) Len() int { return q.q.Len() }

// jitterBackoff is a workqueue.TypedRateLimiter: exponential per key, with
// jitter (client-go's ItemExponentialFailureRateLimiter has none).
type jitterBackoff struct {
	base, max time.Duration
	mu        sync.Mutex
	failures  map[string]int
}

var _ workqueue.TypedRateLimiter[string] = (*jitterBackoff)(nil)

func (b *jitterBackoff) When(key string) time.Duration {
	b.mu.Lock()
	n := b.failures[key]
	b.failures[key] = n + 1
	b.mu.Unlock()
	d := b.base
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (b *jitterBackoff) NumRequeues(key string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures[key]
}

func (b *jitterBackoff) Forget(key string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, key)
}

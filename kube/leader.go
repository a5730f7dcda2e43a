package kube

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	coordinationv1 "k8s.io/client-go/kubernetes/typed/coordination/v1"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// LeaderOptions configure leader election through a Lease.
type LeaderOptions struct {
	// Name and Namespace name the Lease ("" for the context's namespace).
	Name, Namespace string
	// LeaseDuration is how long followers wait after the last renewal
	// before they take the lease; RenewDeadline how long the leader tries
	// to renew before it gives up; RetryPeriod the wait between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// LeaderElector runs client-go's leader election on a Lease
// (coordination.k8s.io/v1) for one process.
type LeaderElector struct {
	le       *leaderelection.LeaderElector
	health   *leaderelection.HealthzAdaptor
	identity string
	lease    string // namespace/name
}

// LeaderCallbacks are called as leadership comes and goes: Started with a
// context that ends when it is lost, Stopped when Run ends (whether or not
// it led), NewLeader when another identity is seen holding the lease.
type LeaderCallbacks struct {
	Started   func(ctx context.Context)
	Stopped   func()
	NewLeader func(identity string)
}

// LeaderElection prepares leader election on the Lease opts name, as this
// process: its identity is the host name and a random suffix. The Lease is
// released when Run's context ends (ReleaseOnCancel), so that another
// process takes over at once.
func (c *Client) LeaderElection(opts LeaderOptions, cb LeaderCallbacks) (*LeaderElector, error) {
	if err := c.init(); err != nil {
		return nil, err
	}
	ns := opts.Namespace
	if ns == "" {
		ns = c.namespace
	}
	host, err := os.Hostname()
	if err != nil {
		host = "k8sh"
	}
	id := host + "_" + string(uuid.NewUUID())
	coord, err := coordinationv1.NewForConfig(c.config)
	if err != nil {
		return nil, err
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: opts.Name, Namespace: ns},
		Client:     coord,
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	health := leaderelection.NewLeaderHealthzAdaptor(opts.RenewDeadline)
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   opts.LeaseDuration,
		RenewDeadline:   opts.RenewDeadline,
		RetryPeriod:     opts.RetryPeriod,
		ReleaseOnCancel: true,
		Name:            opts.Name,
		WatchDog:        health,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				if cb.Started != nil {
					cb.Started(ctx)
				}
			},
			OnStoppedLeading: func() {
				if cb.Stopped != nil {
					cb.Stopped()
				}
			},
			OnNewLeader: func(identity string) {
				if cb.NewLeader != nil && identity != id {
					cb.NewLeader(identity)
				}
			},
		},
	})
	if err != nil {
		return nil, fmt.Errorf("leader election: %w", err)
	}
	health.SetLeaderElection(le)
	return &LeaderElector{le: le, health: health, identity: id, lease: ns + "/" + opts.Name}, nil
}

// Run campaigns for the lease, leads until ctx ends or the lease is lost,
// then releases it. It returns when all that is over.
func (e *LeaderElector) Run(ctx context.Context) { e.le.Run(ctx) }

// Identity is this process's holder identity in the Lease.
func (e *LeaderElector) Identity() string { return e.identity }

// Lease is the Lease's namespace/name.
func (e *LeaderElector) Lease() string { return e.lease }

// IsLeader tells whether this process holds the lease.
func (e *LeaderElector) IsLeader() bool { return e.le.IsLeader() }

// Check is a health check: it fails when this process leads but has not
// renewed the lease for longer than it should have.
func (e *LeaderElector) Check(req *http.Request) error { return e.health.Check(req) }

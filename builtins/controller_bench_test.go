package builtins

import (
	"context"
	"runtime"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// BenchmarkInformerMemory10k measures the heap that the informer cache of
// the 10,000 ConfigMaps of the benchmark namespace holds once synced:
// k8sh's (kube.Informers, what k8s.controller and k8s.cached read) and a
// plain client-go dynamic informer, in the same run. MB-held is the live
// heap after a GC with the cache synced, less the live heap before it was
// started.
//
//	go test -run '^$' -bench InformerMemory10k -benchtime 3x -count 3 ./builtins/
func BenchmarkInformerMemory10k(b *testing.B) {
	env := benchSandbox(b)
	gvr := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	// setup makes the client (outside the measure); start starts the
	// informer, waits for it and returns how many objects it holds.
	held := func(b *testing.B, setup func() func(ctx context.Context) (n int, stop func())) {
		var total float64
		for range b.N {
			start := setup()
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ctx, cancel := context.WithCancel(context.Background())
			n, stop := start(ctx)
			runtime.GC()
			runtime.ReadMemStats(&after)
			if n != benchTotal {
				b.Fatalf("the cache holds %d ConfigMaps, want %d", n, benchTotal)
			}
			total += float64(after.HeapAlloc) - float64(before.HeapAlloc)
			stop()
			cancel()
		}
		b.ReportMetric(total/float64(b.N)/1e6, "MB-held")
	}
	b.Run("k8sh", func(b *testing.B) {
		held(b, func() func(ctx context.Context) (int, func()) {
			c := benchClient(b, env)
			r, err := c.Resolve("configmaps")
			if err != nil {
				b.Fatal(err)
			}
			return func(ctx context.Context) (int, func()) {
				inf, err := c.Informers().For(r, benchNamespace, "")
				if err != nil {
					b.Fatal(err)
				}
				if err := inf.WaitSynced(ctx); err != nil {
					b.Fatal(err)
				}
				return inf.Len(), c.CloseInformers
			}
		})
	})
	b.Run("client-go", func(b *testing.B) {
		held(b, func() func(ctx context.Context) (int, func()) {
			dyn, err := dynamic.NewForConfig(env.Config)
			if err != nil {
				b.Fatal(err)
			}
			return func(ctx context.Context) (int, func()) {
				inf := dynamicinformer.NewFilteredDynamicInformer(dyn, gvr, benchNamespace, 0,
					cache.Indexers{cache.NamespaceIndex: cache.MetaNamespaceIndexFunc}, nil).Informer()
				ictx, cancel := context.WithCancel(ctx)
				go inf.RunWithContext(ictx)
				if !cache.WaitForCacheSync(ictx.Done(), inf.HasSynced) {
					b.Fatal("not synced")
				}
				n := len(inf.GetStore().ListKeys())
				return n, func() { cancel(); time.Sleep(10 * time.Millisecond) }
			}
		})
	})
}

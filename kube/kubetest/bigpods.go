package kubetest

import (
	"context"
	"fmt"
	"hash/fnv"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/rest"
)

// The big-cluster benchmark data (issue 21): BigPodCount Pods bound to
// BigNodes kwok nodes, BigPodsPerNamespace in each of BigNamespaces
// namespaces k8sh-big-000 ... k8sh-big-099, all labelled BigSelector.
// Each namespace runs BigApps Deployment-like sets of 100 replicas named as
// a ReplicaSet names its Pods (api-<hash>-<suffix>), labelled app=<app> and
// pod-template-hash=<hash>; the Pods of a namespace are spread over all the
// nodes (10 per node), so that each node holds 1,000.
const (
	BigNamespaces       = 100
	BigPodsPerNamespace = 1000
	BigPodCount         = BigNamespaces * BigPodsPerNamespace
	BigNodes            = 100
	BigSelector         = "k8sh.test=big"
	bigPodsPerNode      = BigPodCount / BigNodes
)

// BigApps are the apps of each big namespace, each with
// BigPodsPerNamespace/len(BigApps) Pods.
var BigApps = []string{"api", "web", "worker", "cache", "auth", "billing", "search", "ingest", "notify", "gateway"}

// BigNamespace is the name of big namespace i.
func BigNamespace(i int) string { return fmt.Sprintf("k8sh-big-%03d", i) }

// BigNode is the name of big node i.
func BigNode(i int) string { return fmt.Sprintf("k8sh-big-node-%02d", i) }

// bigPod describes pod j of namespace ns: its name, app, template hash and
// node.
func bigPod(ns, j int) (name, app, hash, node string) {
	app = BigApps[j%len(BigApps)]
	hash = bigHash(BigNamespace(ns)+"/"+app, 10)
	name = app + "-" + hash + "-" + bigHash(fmt.Sprint(ns, "/", j), 5)
	node = BigNode((ns*BigPodsPerNamespace + j) % BigNodes)
	return
}

// bigHash is an n-character name suffix drawn from s, in the alphabet of
// the suffixes Kubernetes generates.
func bigHash(s string, n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	h := fnv.New64a()
	h.Write([]byte(s))
	v := h.Sum64()
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[v%uint64(len(alphabet))]
		v /= uint64(len(alphabet))
		if v == 0 {
			v = h.Sum64() ^ uint64(i+1)*0x9e3779b97f4a7c15
		}
	}
	return string(b)
}

// BigPodName is the name of pod j of big namespace ns.
func BigPodName(ns, j int) string { name, _, _, _ := bigPod(ns, j); return name }

var (
	bigOnce sync.Once
	bigErr  error
	bigFill time.Duration
)

// Big100kPods returns a sandbox of its own (PersistentSandbox "big", kept
// in ROOT/.cache/sandbox-big, so that the shared one never holds them)
// with the 100,000 Pods there and Running (see BigPodCount; with
// K8SH_BENCH_BIG_NOWAIT set, without waiting for kwok to make them all
// Running), and how long making them so took (0 when they were all there).
// It skips in -short mode; the first call fills the cluster (tens of
// minutes), later ones reuse what is there.
func Big100kPods(b *testing.B) (*Env, time.Duration) {
	b.Helper()
	if testing.Short() {
		b.Skip("benchmark of a big cluster: starts a sandbox cluster of its own (run without -short)")
	}
	env := PersistentSandbox(b, "big")
	bigOnce.Do(func() {
		start := time.Now()
		var created int
		created, bigErr = ensureBigPods(env, b.Logf)
		if created > 0 {
			bigFill = time.Since(start)
		}
	})
	if bigErr != nil {
		b.Fatal(bigErr)
	}
	return env, bigFill
}

// bigTaint keeps the scheduler (and the DaemonSet controller) from putting
// any other Pod on a big node: the tests' Pods stay on the sandbox's own
// two nodes. The big Pods, bound by spec.nodeName, need no toleration.
var bigTaint = corev1.Taint{Key: "k8sh.test/big", Value: "true", Effect: corev1.TaintEffectNoSchedule}

// bigNodeObject is big node i: a kwok node as the sandbox makes its own
// (annotated kwok.x-k8s.io/node=fake, so that the sandbox's kwok manages
// it), with room for its 1,000 Pods and a /22 of 127.0.0.0/8 of its own for
// their addresses (kwok's --cidr, a /16, has too few for 100,000).
func bigNodeObject(i int) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("64"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse(fmt.Sprint(bigPodsPerNode + 100)),
	}
	name := BigNode(i)
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Labels: map[string]string{
				"type":                   "kwok",
				"k8sh.test":              "big",
				"kubernetes.io/hostname": name,
				"kubernetes.io/os":       "linux",
				"kubernetes.io/arch":     "amd64",
			},
			Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
		},
		Spec: corev1.NodeSpec{
			PodCIDR: fmt.Sprintf("127.%d.%d.0/22", 128+i/64, (i%64)*4),
			Taints:  []corev1.Taint{bigTaint},
		},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res,
			Addresses: []corev1.NodeAddress{
				{Type: corev1.NodeInternalIP, Address: "127.0.0.1"},
				{Type: corev1.NodeHostName, Address: name},
			},
		},
	}
}

// bigPodObject is pod j of big namespace ns: one container, as small as a
// real Deployment's Pod, bound to its node.
func bigPodObject(ns, j int) *corev1.Pod {
	name, app, hash, node := bigPod(ns, j)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: BigNamespace(ns),
			Labels:    map[string]string{"app": app, "pod-template-hash": hash, "k8sh.test": "big"},
		},
		Spec: corev1.PodSpec{
			NodeName: node,
			Containers: []corev1.Container{{
				Name:  app,
				Image: "registry.k8s.io/" + app + ":1.4.2",
				Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
				Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
					corev1.ResourceCPU:    resource.MustParse("10m"),
					corev1.ResourceMemory: resource.MustParse("16Mi"),
				}},
			}},
		},
	}
}

// ensureBigPods makes the cluster hold the big nodes, namespaces and Pods,
// creating what is missing with 32 writers and no client-side rate limit,
// and waits until kwok has made every Pod Running. It returns how many
// Pods it created.
func ensureBigPods(env *Env, logf func(string, ...any)) (int, error) {
	ctx := context.Background()
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // no client-side rate limit
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		return 0, err
	}
	for i := range BigNodes {
		_, err := cs.CoreV1().Nodes().Create(ctx, bigNodeObject(i), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			err = ensureTaint(ctx, cs, BigNode(i))
		}
		if err != nil {
			return 0, fmt.Errorf("creating node %s: %w", BigNode(i), err)
		}
	}
	for i := range BigNamespaces {
		_, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
			ObjectMeta: metav1.ObjectMeta{Name: BigNamespace(i), Labels: map[string]string{"k8sh.test": "big"}},
		}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return 0, fmt.Errorf("creating namespace %s: %w", BigNamespace(i), err)
		}
	}
	// A Pod's service account must exist when it is created: the
	// controller manager makes each new namespace's "default" a moment later.
	for i := range BigNamespaces {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			_, err := cs.CoreV1().ServiceAccounts(BigNamespace(i)).Get(ctx, "default", metav1.GetOptions{})
			if err == nil {
				break
			}
			if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
				return 0, fmt.Errorf("waiting for %s/default service account: %w", BigNamespace(i), err)
			}
		}
	}

	// What is there: the names of the labelled Pods, metadata only, of
	// each namespace that does not hold exactly its 1,000 Pods (a list of
	// one item tells how many a namespace holds).
	have := map[string]bool{}
	pods := mc.Resource(corev1.SchemeGroupVersion.WithResource("pods"))
	full := map[int]bool{}
	for i := range BigNamespaces {
		l, err := pods.Namespace(BigNamespace(i)).List(ctx, metav1.ListOptions{Limit: 1})
		if err != nil {
			return 0, fmt.Errorf("listing the big pods: %w", err)
		}
		n := int64(len(l.Items))
		if l.RemainingItemCount != nil {
			n += *l.RemainingItemCount
		}
		if n != BigPodsPerNamespace {
			continue
		}
		l, err = pods.Namespace(BigNamespace(i)).List(ctx, metav1.ListOptions{LabelSelector: BigSelector, Limit: 1})
		if err == nil && len(l.Items) == 1 && l.Continue != "" {
			full[i] = true // assumed to be the 1,000 (its Pods are only ours)
		}
	}
	for i := range BigNamespaces {
		if full[i] {
			continue
		}
		for opts := (metav1.ListOptions{LabelSelector: BigSelector, Limit: 5000}); ; {
			l, err := pods.Namespace(BigNamespace(i)).List(ctx, opts)
			if err != nil {
				return 0, fmt.Errorf("listing the big pods: %w", err)
			}
			for _, p := range l.Items {
				have[p.Namespace+"/"+p.Name] = true
			}
			if opts.Continue = l.Continue; opts.Continue == "" {
				break
			}
		}
	}

	work, wait := workers(32)
	created := 0
	start := time.Now()
	for ns := range BigNamespaces {
		if full[ns] {
			continue
		}
		for j := range BigPodsPerNamespace {
			p := bigPodObject(ns, j)
			key := p.Namespace + "/" + p.Name
			if have[key] {
				delete(have, key)
				continue
			}
			created++
			work <- func() error {
				_, err := cs.CoreV1().Pods(p.Namespace).Create(ctx, p, metav1.CreateOptions{})
				if apierrors.IsAlreadyExists(err) {
					return fmt.Errorf("pod %s exists without the label %s", key, BigSelector)
				}
				return err
			}
		}
	}
	for key := range have { // labelled but not one of the 100,000
		ns, name, _ := strings.Cut(key, "/")
		work <- func() error {
			return cs.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)})
		}
	}
	if err := wait(); err != nil {
		return created, fmt.Errorf("filling the big pods: %w", err)
	}
	if created > 0 {
		logf("created %d pods in %s", created, time.Since(start).Round(time.Second))
	}
	// kwok marks each Pod Running (its pod-ready stage): wait for the last,
	// unless K8SH_BENCH_BIG_NOWAIT is set (kwok marks a few dozen a second
	// on a loaded machine: the figures are then of Pods partly Pending).
	if os.Getenv("K8SH_BENCH_BIG_NOWAIT") != "" {
		return created, nil
	}
	for deadline := time.Now().Add(90 * time.Minute); ; time.Sleep(5 * time.Second) {
		l, err := pods.List(ctx, metav1.ListOptions{LabelSelector: BigSelector, FieldSelector: "status.phase!=Running", Limit: 1})
		if err != nil {
			return created, fmt.Errorf("waiting for the big pods to run: %w", err)
		}
		if len(l.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			return created, fmt.Errorf("waiting for the big pods to run: %s/%s is not Running after 90 minutes", l.Items[0].Namespace, l.Items[0].Name)
		}
	}
	if created > 0 {
		logf("created %d pods, all Running, in %s", created, time.Since(start).Round(time.Second))
	}
	return created, nil
}

// ensureTaint gives node the big nodes' taint if it lacks it.
func ensureTaint(ctx context.Context, cs kubernetes.Interface, node string) error {
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, t := range n.Spec.Taints {
		if t.MatchTaint(&bigTaint) {
			return nil
		}
	}
	n.Spec.Taints = append(n.Spec.Taints, bigTaint)
	_, err = cs.CoreV1().Nodes().Update(ctx, n, metav1.UpdateOptions{})
	return err
}

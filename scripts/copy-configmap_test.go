package scripts

import (
	"context"
	"encoding/base64"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/k8sh/k8sh/kube/kubetest"
)

func TestScriptCopyConfigMapE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	ctx := context.Background()
	core := env.Clientset.CoreV1()
	src, dst1, dst2 := env.Namespace, env.CreateNamespace(t), env.CreateNamespace(t)
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

	// The source ConfigMap carries what must not be copied: an owner
	// reference (the owner is not in the targets: the garbage collector
	// would delete a copy that kept it), the server's metadata (uid,
	// resourceVersion, managedFields...) and kubectl's last-applied
	// annotation.
	owner, err := core.ConfigMaps(src).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "owner"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = core.ConfigMaps(src).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:            "app-config",
			Labels:          map[string]string{"app": "web", "team": "x"},
			Annotations:     map[string]string{"note": "hi", lastApplied: `{"apiVersion":"v1","kind":"ConfigMap"}`},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "owner", UID: owner.UID}},
		},
		Data:       map[string]string{"a": "1", "b": "2"},
		BinaryData: map[string][]byte{"bin": {0, 1, 2, 255}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	const secretValue = "s3cr3t-Value-9f8e7d"
	_, err = core.Secrets(src).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db-creds", Labels: map[string]string{"app": "db"}},
		Type:       "example.com/db",
		Data:       map[string][]byte{"password": []byte(secretValue), "user": []byte("admin")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	var outputs []string // every stdout and stderr, searched for the secret at the end
	run := func(wantCode int, args ...string) result {
		t.Helper()
		full := append([]string{"--kubeconfig", env.Kubeconfig, "-n", src}, args...)
		r := k8sh(t, "", nil, full...)
		outputs = append(outputs, r.Stdout, r.Stderr)
		if r.Code != wantCode {
			t.Fatalf("k8sh %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Code, wantCode, r.Stdout, r.Stderr)
		}
		return r
	}
	// line checks that the output line for namespace ns starts with want.
	line := func(r result, ns, want string) {
		t.Helper()
		for _, l := range strings.Split(r.Stdout, "\n") {
			if strings.HasPrefix(l, ns+": ") {
				if !strings.HasPrefix(l, ns+": "+want) {
					t.Errorf("line of %s is %q, want it to start with %q", ns, l, ns+": "+want)
				}
				return
			}
		}
		t.Errorf("no line for namespace %s, want %q, in:\n%s", ns, want, r.Stdout)
	}
	getCM := func(ns string) *corev1.ConfigMap {
		t.Helper()
		cm, err := core.ConfigMaps(ns).Get(ctx, "app-config", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		return cm
	}
	// sameAsSource checks that the copy in ns has the source's content and
	// none of its server metadata.
	sameAsSource := func(step, ns string) *corev1.ConfigMap {
		t.Helper()
		s, c := getCM(src), getCM(ns)
		if c == nil {
			t.Fatalf("%s: no copy in %s", step, ns)
		}
		if !reflect.DeepEqual(c.Data, s.Data) || !reflect.DeepEqual(c.BinaryData, s.BinaryData) {
			t.Errorf("%s: copy in %s has data %v %v, want %v %v", step, ns, c.Data, c.BinaryData, s.Data, s.BinaryData)
		}
		if !reflect.DeepEqual(c.Labels, s.Labels) {
			t.Errorf("%s: copy in %s has labels %v, want %v", step, ns, c.Labels, s.Labels)
		}
		wantAnn := map[string]string{}
		for k, v := range s.Annotations {
			if k != lastApplied {
				wantAnn[k] = v
			}
		}
		if !reflect.DeepEqual(c.Annotations, wantAnn) {
			t.Errorf("%s: copy in %s has annotations %v, want %v (the source's without last-applied)", step, ns, c.Annotations, wantAnn)
		}
		if len(c.OwnerReferences) != 0 || len(c.Finalizers) != 0 || c.UID == s.UID {
			t.Errorf("%s: copy in %s kept server metadata: ownerReferences %v, finalizers %v, uid %s (source's %s)",
				step, ns, c.OwnerReferences, c.Finalizers, c.UID, s.UID)
		}
		for _, mf := range c.ManagedFields {
			if mf.Manager != "k8sh" {
				t.Errorf("%s: copy in %s has the managedFields of %q: the source's were copied", step, ns, mf.Manager)
			}
		}
		return c
	}

	// A dry run creates nothing and says what it would do.
	r := run(0, "--dry-run", "copy-configmap.star", "configmap/app-config", dst1, dst2)
	line(r, dst1, "would create")
	line(r, dst2, "would create")
	if getCM(dst1) != nil || getCM(dst2) != nil {
		t.Fatalf("a dry run created a copy")
	}

	// The copy; the source namespace among the targets is skipped, a
	// missing namespace fails alone.
	r = run(1, "copy-configmap.star", "cm/app-config", dst1, src, "no-such-namespace-k8sh", dst2)
	line(r, dst1, "created")
	line(r, dst2, "created")
	line(r, src, "skipped: it is the source")
	line(r, "no-such-namespace-k8sh", "FAILED: ")
	sameAsSource("copy", dst1)
	sameAsSource("copy", dst2)

	// The source changes: without --overwrite, copies are skipped and say
	// what differs (names only), and stay as they were.
	s := getCM(src)
	s.Data = map[string]string{"a": "changed", "c": "3"}
	s.Labels["team"] = "y"
	if _, err := core.ConfigMaps(src).Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	before := getCM(dst1)
	r = run(0, "copy-configmap.star", "configmap/app-config", dst1)
	line(r, dst1, "skipped: exists and differs in data a, b, c; labels (--overwrite replaces it)")
	if after := getCM(dst1); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a skipped copy was changed: %v", after.Data)
	}
	r = run(0, "--dry-run", "copy-configmap.star", "configmap/app-config", dst1, "--overwrite")
	line(r, dst1, "would replace: data a, b, c; labels")
	if after := getCM(dst1); after.ResourceVersion != before.ResourceVersion {
		t.Errorf("a dry-run overwrite changed the copy: %v", after.Data)
	}

	// --overwrite: replaced in place (key b is gone), or, where the copy is
	// immutable, deleted and recreated.
	c2 := getCM(dst2)
	immutable := true
	c2.Immutable = &immutable
	if _, err := core.ConfigMaps(dst2).Update(ctx, c2, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = run(0, "copy-configmap.star", "configmap/app-config", dst1, dst2, "--overwrite")
	line(r, dst1, "replaced: data a, b, c; labels")
	line(r, dst2, "replaced (deleted and recreated): data a, b, c; immutable; labels")
	if c := sameAsSource("overwrite", dst1); c.UID != before.UID {
		t.Errorf("the copy in %s was recreated, want it updated in place", dst1)
	}
	if c := sameAsSource("overwrite", dst2); c.UID == c2.UID || c.Immutable != nil && *c.Immutable {
		t.Errorf("the immutable copy in %s was not recreated as the (mutable) source: uid %s, immutable %v", dst2, c.UID, c.Immutable)
	}
	r = run(0, "copy-configmap.star", "configmap/app-config", dst1, dst2)
	line(r, dst1, "unchanged: the copy there is identical")
	line(r, dst2, "unchanged: the copy there is identical")

	// A Secret, into a context named explicitly: its values never show.
	r = run(0, "copy-configmap.star", "secret/db-creds", "--to-context", "sandbox", dst1)
	line(r, dst1, "created")
	if !strings.Contains(r.Stdout, "Secret of type example.com/db, 2 keys") {
		t.Errorf("the header does not describe the secret:\n%s", r.Stdout)
	}
	sc, err := core.Secrets(dst1).Get(ctx, "db-creds", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if sc.Type != "example.com/db" || string(sc.Data["password"]) != secretValue || string(sc.Data["user"]) != "admin" ||
		sc.Labels["app"] != "db" || len(sc.Data) != 2 {
		t.Errorf("the secret's copy differs: type %s, labels %v, %d keys", sc.Type, sc.Labels, len(sc.Data))
	}
	ss, _ := core.Secrets(src).Get(ctx, "db-creds", metav1.GetOptions{})
	ss.Data["password"] = []byte(secretValue + "-rotated")
	if _, err := core.Secrets(src).Update(ctx, ss, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = run(0, "copy-configmap.star", "secret/db-creds", "--to-context", "sandbox", dst1)
	line(r, dst1, "skipped: exists and differs in data password (--overwrite replaces it)")
	r = run(0, "copy-configmap.star", "secret/db-creds", "--to-context", "sandbox", dst1, "--overwrite")
	line(r, dst1, "replaced: data password")
	if sc, _ := core.Secrets(dst1).Get(ctx, "db-creds", metav1.GetOptions{}); string(sc.Data["password"]) != secretValue+"-rotated" {
		t.Errorf("the secret was not overwritten")
	}

	// The read-only context cannot read Secrets there: a failure, nothing
	// made. Its default namespace (no NAMESPACE) is the source itself.
	r = run(1, "copy-configmap.star", "secret/db-creds", "--to-context", "sandbox-viewer", dst2)
	line(r, dst2, "FAILED: ")
	if !strings.Contains(r.Stdout, "forbidden") {
		t.Errorf("the viewer's failure does not say forbidden:\n%s", r.Stdout)
	}
	if _, err := core.Secrets(dst2).Get(ctx, "db-creds", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the secret reached %s through the read-only context (err %v)", dst2, err)
	}
	r = run(0, "copy-configmap.star", "cm/app-config", "--to-context", "sandbox-viewer")
	line(r, src, "skipped: it is the source")

	// A service account token is refused.
	if _, err := core.Secrets(src).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sa-token", Annotations: map[string]string{"kubernetes.io/service-account.name": "default"}},
		Type:       corev1.SecretTypeServiceAccountToken,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	r = run(1, "copy-configmap.star", "secret/sa-token", dst1)
	if !strings.Contains(r.Stderr, "service account token") {
		t.Errorf("copying a service account token: want a refusal, got:\n%s", r.Stderr)
	}
	if _, err := core.Secrets(dst1).Get(ctx, "sa-token", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the service account token was copied (err %v)", err)
	}

	// Bad arguments: a usage line, exit status 2; a missing source: exit status 1.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: copy-configmap.star"},
		{[]string{"cm/app-config"}, "usage: copy-configmap.star"},
		{[]string{"deploy/web", dst1}, "usage: copy-configmap.star"},
		{[]string{"cm/app-config", dst1, "--bogus"}, "usage: copy-configmap.star"},
		{[]string{"cm/app-config", "--to-context"}, "usage: copy-configmap.star"},
		{[]string{"cm/app-config", "--to-context", "nope"}, `no context "nope"`},
		{[]string{"cm/missing", dst1}, "configmap/missing not found in namespace " + src},
	} {
		code := 1
		if strings.HasPrefix(tc.want, "usage:") {
			code = 2
		}
		r := run(code, append([]string{"copy-configmap.star"}, tc.args...)...)
		if !strings.Contains(r.Stderr, tc.want) {
			t.Errorf("args %q: stderr %q, want it to contain %q", tc.args, r.Stderr, tc.want)
		}
	}

	all := strings.Join(outputs, "\n")
	for _, v := range []string{secretValue, base64.StdEncoding.EncodeToString([]byte(secretValue)),
		base64.StdEncoding.EncodeToString([]byte(secretValue + "-rotated"))} {
		if strings.Contains(all, v) {
			t.Errorf("a run printed the secret value %q", v)
		}
	}
}

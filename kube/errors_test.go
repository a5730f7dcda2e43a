package kube

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
)

// TestAPIErrorWording: an error from the server keeps its message and ends
// with kubectl's reason class; a server out of reach is said in kubectl's
// words; the API error is kept for errors.Is/As and apierrors.IsX.
func TestAPIErrorWording(t *testing.T) {
	pods := schema.GroupResource{Resource: "pods"}
	cms := schema.GroupResource{Resource: "configmaps"}
	dnsErr := &url.Error{Op: "Get", URL: "https://x.invalid:6443/api", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}}
	tlsErr := &url.Error{Op: "Get", URL: "https://127.0.0.1:6443/api", Err: &x509.UnknownAuthorityError{}}
	refused := &url.Error{Op: "Get", URL: "https://127.0.0.1:1/api", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	for _, tc := range []struct {
		name string
		err  error
		ns   string
		want string
		is   func(error) bool
	}{
		{"not found", apierrors.NewNotFound(pods, "x"), "default",
			`pods "x" not found in namespace "default" (NotFound)`, apierrors.IsNotFound},
		{"cluster-scoped not found", apierrors.NewNotFound(schema.GroupResource{Resource: "nodes"}, "n"), "",
			`nodes "n" not found (NotFound)`, apierrors.IsNotFound},
		{"namespace not found", apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "nope"), "nope",
			`namespaces "nope" not found (NotFound)`, apierrors.IsNotFound},
		{"already exists", apierrors.NewAlreadyExists(cms, "c"), "ns",
			`configmaps "c" already exists (AlreadyExists)`, apierrors.IsAlreadyExists},
		{"forbidden", apierrors.NewForbidden(cms, "c", errors.New(`User "viewer" cannot create resource "configmaps"`)), "ns",
			`configmaps "c" is forbidden: User "viewer" cannot create resource "configmaps" (Forbidden)`, apierrors.IsForbidden},
		{"invalid", apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "B", field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), "B", "bad name")}), "ns",
			`ConfigMap "B" is invalid: metadata.name: Invalid value: "B": bad name (Invalid)`, apierrors.IsInvalid},
		{"unauthorized", apierrors.NewUnauthorized("Unauthorized"), "",
			`you must be logged in to the server (Unauthorized)`, apierrors.IsUnauthorized},
		{"no reason", &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 500, Message: "boom"}}, "",
			`boom`, nil},
		{"refused", refused, "",
			`the connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?`,
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"dns", dnsErr, "",
			`unable to connect to the server: dial tcp: lookup x.invalid: no such host`,
			func(err error) bool { var d *net.DNSError; return errors.As(err, &d) }},
		{"tls", tlsErr, "",
			`unable to connect to the server: x509: certificate signed by unknown authority`,
			func(err error) bool { var u *x509.UnknownAuthorityError; return errors.As(err, &u) }},
		{"canceled", &url.Error{Op: "Get", URL: "https://127.0.0.1:1/api", Err: context.Canceled}, "",
			`Get "https://127.0.0.1:1/api": context canceled`,
			func(err error) bool { return errors.Is(err, context.Canceled) }},
		{"plain", errors.New("decoding: bad"), "ns", "decoding: bad", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := apiError(tc.err, tc.ns)
			if err.Error() != tc.want {
				t.Errorf("got  %s\nwant %s", err, tc.want)
			}
			if again := apiError(err, tc.ns); again.Error() != tc.want {
				t.Errorf("reworded twice: %s", again)
			}
			if tc.is != nil && !tc.is(err) {
				t.Errorf("%v: the cause is not kept", err)
			}
		})
	}
}

// TestBulkErrorConnection: a server out of reach is said once for all the
// objects it failed; per-object errors keep a line each.
func TestBulkErrorConnection(t *testing.T) {
	refused := &refusedError{host: "the server 127.0.0.1:1", err: syscall.ECONNREFUSED}
	tlsErr := &connectError{err: &url.Error{Op: "Get", URL: "https://127.0.0.1:2", Err: errors.New("tls: bad certificate")}}
	names := make([]string, 19)
	errs := make([]error, 19)
	for i := range names {
		names[i], errs[i] = fmt.Sprintf("configmap/c%d", i), refused
	}
	want := "19 objects: the connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?"
	if got := bulkError(names, make([]string, len(names)), errs).Error(); got != want {
		t.Errorf("all refused:\ngot  %s\nwant %s", got, want)
	}

	errs[3] = nil
	errs[5] = apierrors.NewAlreadyExists(schema.GroupResource{Resource: "configmaps"}, "c5")
	errs[7] = tlsErr
	want = "18 of 19 objects failed: 16 objects: the connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?; " +
		`configmap/c5: configmaps "c5" already exists; configmap/c7: unable to connect to the server: tls: bad certificate`
	err := bulkError(names, make([]string, len(names)), errs)
	if got := err.Error(); got != want {
		t.Errorf("mixed:\ngot  %s\nwant %s", got, want)
	}
	var be *BulkError
	if !errors.As(err, &be) || len(be.Errors) != 18 || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("the errors of each object are not kept: %#v", err)
	}

	one := bulkError([]string{"configmap/a"}, []string{"ns"}, []error{refused})
	if got := one.Error(); got != "configmap/a: "+refused.Error() {
		t.Errorf("one object: %s", got)
	}
}

// TestConfigErrorWording: kubeconfig errors in kubectl's words (kubectl
// --kubeconfig F --context C get pods).
func TestConfigErrorWording(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(`apiVersion: v1
kind: Config
current-context: a
clusters: [{name: a, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: a, user: {token: t}}]
contexts: [{name: a, context: {cluster: a, user: a}}]
`), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("apiVersion: v1\nkind: Config\nclusters: [\n  - bad: : :\n"), 0o600)
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		kubeconfig, context, want string
	}{
		{missing, "", "kubeconfig: stat " + missing + ": no such file or directory"},
		{good, "nope", "error in configuration: context was not found for specified context: nope"},
		{bad, "", `kubeconfig: error loading config file "` + bad + `": yaml: line 3: did not find expected node content`},
	} {
		flags := genericclioptions.NewConfigFlags(true)
		flags.KubeConfig, flags.Context = &tc.kubeconfig, &tc.context
		_, err := NewClient(flags).Namespace()
		if err == nil || err.Error() != tc.want {
			t.Errorf("--kubeconfig %s --context %q:\ngot  %v\nwant %s", tc.kubeconfig, tc.context, err, tc.want)
		}
	}
}

// TestPrintWarnings: every config made from the flags prints the server's
// warnings as kubectl does, once per distinct text, the contexts copied from
// them too, with terminal control bytes escaped.
func TestPrintWarnings(t *testing.T) {
	var b strings.Builder
	flags := NewConfigFlags()
	PrintWarnings(flags, &b)
	other := forContext(flags, "other")
	for _, f := range []*genericclioptions.ConfigFlags{flags, other} {
		cfg := f.WrapConfigFn(&rest.Config{})
		cfg.WarningHandler.HandleWarningHeader(299, "-", "v1 Endpoints is deprecated")
		cfg.WarningHandler.HandleWarningHeader(299, "-", "title \x1b]0;pwned\x07 set")
		cfg.WarningHandler.HandleWarningHeader(199, "-", "not a warning kubectl prints")
	}
	want := "Warning: v1 Endpoints is deprecated\nWarning: title ^[]0;pwned\x07 set\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

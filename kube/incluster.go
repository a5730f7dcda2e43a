package kube

import (
	"net"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ServiceAccountDir is where a pod finds its service account's files:
// token, ca.crt and namespace (client-go's rest.InClusterConfig reads them
// there).
const ServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// ServiceAccountDirEnv names another directory to read them from: a test
// that runs k8sh as a pod would, with no pod. The directory is used only
// where ServiceAccountDir would be: with KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT set, and no kubeconfig.
const ServiceAccountDirEnv = "K8SH_SERVICEACCOUNT_DIR"

// UseInCluster makes flags talk to the cluster k8sh runs in, as its pod's
// service account, when k8sh runs in a pod: KUBERNETES_SERVICE_HOST and
// KUBERNETES_SERVICE_PORT are set, the service account's token is there,
// and there is no kubeconfig (no --kubeconfig, no KUBECONFIG file, no
// ~/.kube/config) and no --server. That is when kubectl, through client-go,
// falls back to rest.InClusterConfig, and the config is the one it builds:
// the server https://HOST:PORT, the CA of ca.crt, the token file (re-read
// as client-go re-reads it, so that a rotated token is used), and the
// namespace of POD_NAMESPACE or of the namespace file as the default one
// (unless -n names another). It is built here rather than left to
// client-go so that the directory can be another (ServiceAccountDirEnv).
// Otherwise flags are left as they are.
func UseInCluster(flags *genericclioptions.ConfigFlags) {
	host, port := os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return
	}
	dir := os.Getenv(ServiceAccountDirEnv)
	if dir == "" {
		dir = ServiceAccountDir
	}
	token := filepath.Join(dir, "token")
	if fi, err := os.Stat(token); err != nil || fi.IsDir() {
		return
	}
	if given(flags.KubeConfig) || given(flags.APIServer) {
		return
	}
	if cfg, err := clientcmd.NewDefaultClientConfigLoadingRules().Load(); err != nil || !clientcmdapi.IsConfigEmpty(cfg) {
		return // a kubeconfig, or one that cannot be read: its error is the one to see
	}
	server := "https://" + net.JoinHostPort(host, port)
	flags.APIServer = &server
	if ca := filepath.Join(dir, "ca.crt"); !given(flags.CAFile) && exists(ca) {
		flags.CAFile = &ca
	}
	if !given(flags.Namespace) {
		ns := os.Getenv("POD_NAMESPACE")
		if ns == "" {
			if data, err := os.ReadFile(filepath.Join(dir, "namespace")); err == nil {
				ns = strings.TrimSpace(string(data))
			}
		}
		if ns != "" {
			flags.Namespace = &ns
		}
	}
	prev := flags.WrapConfigFn
	flags.WrapConfigFn = func(c *rest.Config) *rest.Config {
		if c.BearerToken == "" && c.BearerTokenFile == "" && c.Username == "" && c.CertFile == "" {
			c.BearerTokenFile = token
		}
		if prev != nil {
			return prev(c)
		}
		return c
	}
}

func given(s *string) bool { return s != nil && *s != "" }

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

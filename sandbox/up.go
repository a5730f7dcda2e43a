package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const (
	apiserverTimeout = 60 * time.Second
	settleTimeout    = 90 * time.Second
	etcdTimeout      = 30 * time.Second
	pollInterval     = 150 * time.Millisecond
)

// The sandbox's addresses. Every connection a component makes stays on
// 127.0.0.0/8, which Linux routes to the loopback device as a whole:
//
//   - serviceCIDR: kube-apiserver reaches the Service of an admission webhook
//     or an APIService at its ClusterIP (the default: aggregator routing off,
//     because EndpointSlices may not hold loopback addresses, so the endpoint
//     route would find nothing to dial). A ClusterIP in 127.2.0.0/16 is a
//     loopback address where nothing listens: a webhook or APIService with no
//     server of ours behind it fails at once with "connection refused" on
//     127.2.x.y, instead of dialling an address that leaves the machine (the
//     former 10.0.0.0/24 did).
//   - podCIDR: kwok gives Pods addresses in 127.1.0.0/16 (kwok-node-1's
//     in node1PodCIDR, 127.3.0.0/16), so the pod proxy dials loopback too.
//   - The egress guard: all of kube-apiserver's "cluster" and "controlplane"
//     traffic (webhooks by Service or by URL, aggregated APIs, kubelet calls,
//     the pod, service and node proxies) goes through the HTTP CONNECT proxy of
//     egressguard/, which dials loopback addresses only and refuses any
//     other (an ExternalName Service or a webhook URL naming a real host).
const (
	serviceCIDR = "127.2.0.0/16"
	podCIDR     = "127.1.0.1/16"

	// stateRecipe is recorded in state.json: a sandbox recorded by another
	// recipe (other components or flags) is not resumed but started anew.
	stateRecipe = 4
)

// up starts the sandbox (or confirms it is already running) and returns the
// absolute kubeconfig path. A sandbox that was stopped, or one of whose
// components died, is resumed: the components that are not running start
// again with the flags, ports and etcd data they had. It starts anew, empty,
// only when there is nothing to resume or etcd's data is unusable, and then
// says so in one line.
func (e *env) up() (string, error) {
	ok, s := e.healthy()
	if err := e.checkGates(s); err != nil {
		return "", err
	}
	if !e.gatesGiven && s != nil {
		e.apiserverGates = recordedGates(s) // started anew, as it was
	}
	if ok {
		if _, err := os.Stat(e.kubeconfig); err != nil {
			p, err := loadPKI(e.pkiDir)
			if err == nil {
				err = e.writeKubeconfigs(p, s.Server)
			}
			if err != nil {
				return "", err
			}
		}
		logf("already running")
		if s.Recipe != stateRecipe {
			logf("warning: the running sandbox was made by another version of sandboxctl and lacks what this one sets up; `make sandbox-reset` replaces it (its objects are lost)")
		}
		return e.kubeconfig, nil
	}
	if err := e.build(false); err != nil {
		return "", err
	}
	if s != nil {
		why := e.cannotResume(s)
		if why == "" {
			path, err := e.resume(s)
			var bad *etcdDataError
			if !errors.As(err, &bad) {
				return path, err
			}
			why = fmt.Sprintf("the etcd data in %s is unusable (%v)", e.etcdDir, bad.err)
		}
		logf("%s: starting a new, empty cluster", why)
	} else if _, err := os.Stat(e.etcdDir); err == nil {
		logf("no %s records the sandbox of %s: starting a new, empty cluster", e.statePath, e.etcdDir)
	}
	if err := e.down(); err != nil {
		return "", err
	}
	return e.coldStart()
}

// reset stops the sandbox, wipes its etcd data, logs and state, and starts
// it anew, empty. It is the one way to wipe the sandbox on purpose.
func (e *env) reset() (string, error) {
	if err := e.down(); err != nil {
		return "", err
	}
	if err := e.build(false); err != nil {
		return "", err
	}
	// coldStart wipes the etcd data and logs.
	for _, d := range []string{e.execDir, e.statePath} {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	logf("wiping %s", e.stateDir)
	return e.coldStart()
}

// cannotResume says why the recorded sandbox s cannot be resumed, or "".
func (e *env) cannotResume(s *state) string {
	if s.Recipe != stateRecipe {
		return fmt.Sprintf("the sandbox in %s was made by another version of sandboxctl", e.stateDir)
	}
	if s.BinDir != e.binDir {
		return fmt.Sprintf("the sandbox in %s ran the binaries of %s", e.stateDir, s.BinDir)
	}
	for _, c := range s.Components {
		if len(c.Args) == 0 {
			return fmt.Sprintf("%s records no flags for %s", e.statePath, c.Name)
		}
	}
	if _, err := os.Stat(filepath.Join(e.etcdDir, "member")); err != nil {
		return fmt.Sprintf("no etcd data in %s", e.etcdDir)
	}
	if _, err := loadPKI(e.pkiDir); err != nil {
		return fmt.Sprintf("the PKI in %s is unusable (%v)", e.pkiDir, err)
	}
	return ""
}

// etcdDataError is etcd failing to start on its existing data.
type etcdDataError struct{ err error }

func (e *etcdDataError) Error() string { return e.err.Error() }

// healthy reports whether state.json describes live processes of ours and the
// apiserver answers /readyz with 200.
func (e *env) healthy() (bool, *state) {
	s, err := e.readState()
	if err != nil {
		return false, nil
	}
	if !s.Ready || len(s.Components) == 0 || s.BinDir != e.binDir {
		return false, s
	}
	for _, c := range s.Components {
		if !e.ourProcess(c.Pid) {
			return false, s
		}
	}
	p, err := loadPKI(e.pkiDir)
	if err != nil {
		return false, s
	}
	c, err := newAPIClient(s.Server, p.caPEM, p.adminToken)
	if err != nil {
		return false, s
	}
	// Its processes live: give a busy apiserver some time to answer.
	deadline := time.Now().Add(15 * time.Second)
	for !c.ready() {
		if time.Now().After(deadline) {
			return false, s
		}
		time.Sleep(500 * time.Millisecond)
	}
	return true, s
}

// coldStart starts a new, empty sandbox on new free ports.
func (e *env) coldStart() (string, error) {
	for _, d := range []string{e.etcdDir, e.logDir} {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	p, err := ensurePKI(e.pkiDir)
	if err != nil {
		return "", err
	}
	names := []string{"etcd-client", "etcd-peer", "apiserver", "kwok", "kwok-server", "kwok-1", "kwok-1-server", "echo-http", "echo-tcp", "metrics-server"}
	free, err := freePorts(len(names))
	if err != nil {
		return "", err
	}
	ports := map[string]int{}
	for i, n := range names {
		ports[n] = free[i]
	}
	st := &state{
		Root:       e.root,
		StateDir:   e.stateDir,
		BinDir:     e.binDir,
		Kubeconfig: e.kubeconfig,
		Server:     "https://127.0.0.1:" + strconv.Itoa(ports["apiserver"]),
		Ports:      ports,
		Recipe:     stateRecipe,
		StartedAt:  time.Now().UTC(),
		Components: e.components(p, ports),
	}
	path, err := e.bringUp(st, p, true)
	if err != nil {
		os.Remove(e.statePath)
	}
	return path, err
}

// resume starts the components of s that are not running, with the flags
// and ports they had.
func (e *env) resume(s *state) (string, error) {
	p, err := loadPKI(e.pkiDir)
	if err != nil {
		return "", err
	}
	return e.bringUp(s, p, false)
}

// components returns the sandbox's processes in start order, each with its
// flags: what a cold start runs and a resume runs again.
func (e *env) components(p *pki, ports map[string]int) []component {
	port := func(n string) string { return strconv.Itoa(ports[n]) }
	etcdClient := "http://127.0.0.1:" + port("etcd-client")
	etcdPeer := "http://127.0.0.1:" + port("etcd-peer")
	return []component{
		{Name: "etcd", Ports: map[string]int{"client": ports["etcd-client"], "peer": ports["etcd-peer"]}, Args: []string{
			"--name", "default",
			"--data-dir", e.etcdDir,
			"--listen-client-urls", etcdClient,
			"--advertise-client-urls", etcdClient,
			"--listen-peer-urls", etcdPeer,
			"--initial-advertise-peer-urls", etcdPeer,
			"--initial-cluster", "default=" + etcdPeer,
			"--initial-cluster-state", "new",
			"--unsafe-no-fsync",
			"--log-level", "warn",
		}},
		{Name: "egress-guard", Args: []string{"-socket", e.egressSocket()}},
		{Name: "echo-server", Ports: map[string]int{"http": ports["echo-http"], "tcp": ports["echo-tcp"]}, Args: []string{
			"-http", "127.0.0.1:" + port("echo-http"),
			"-tcp", "127.0.0.1:" + port("echo-tcp"),
		}},
		{Name: "kube-apiserver", Ports: map[string]int{"secure": ports["apiserver"]}, Args: append([]string{
			"--etcd-servers", etcdClient,
			"--secure-port", port("apiserver"),
			"--bind-address", "127.0.0.1",
			"--advertise-address", "127.0.0.1",
			// 1.37 rejects a loopback advertise address in the endpoint
			// reconciler; the sandbox has no in-cluster clients anyway.
			"--endpoint-reconciler-type", "none",
			"--cert-dir", filepath.Join(e.pkiDir, "apiserver-certs"),
			"--tls-cert-file", p.servingCert(),
			"--tls-private-key-file", p.servingKey(),
			"--client-ca-file", p.caCert(),
			"--service-account-issuer", "https://kubernetes.default.svc",
			"--service-account-key-file", p.saKey(),
			"--service-account-signing-key-file", p.saKey(),
			"--token-auth-file", p.tokensFile(),
			"--authorization-mode", "Node,RBAC",
			// See serviceCIDR.
			"--service-cluster-ip-range", serviceCIDR,
			"--enable-aggregator-routing=false",
			"--egress-selector-config-file", e.egressCfg,
			"--requestheader-client-ca-file", p.frontProxyCA(),
			"--requestheader-allowed-names", frontProxyClientName,
			"--requestheader-username-headers", "X-Remote-User",
			"--requestheader-group-headers", "X-Remote-Group",
			"--requestheader-extra-headers-prefix", "X-Remote-Extra-",
			"--proxy-client-cert-file", p.frontProxyClient(),
			"--proxy-client-key-file", p.frontProxyClientKey(),
			"--allow-privileged=true",
			"--kubelet-preferred-address-types", "InternalIP",
			"--audit-policy-file", e.auditPol,
			"--audit-log-path", filepath.Join(e.logDir, "audit.log"),
			"--audit-log-maxsize", "100",
			"--audit-log-maxbackup", "1",
		}, gatesArgs(e.apiserverGates)...)},
		{Name: "kube-controller-manager", Args: []string{
			"--kubeconfig", p.componentsConfig(),
			"--service-account-private-key-file", p.saKey(),
			"--root-ca-file", p.caCert(),
			"--cluster-signing-cert-file", p.caCert(),
			"--cluster-signing-key-file", p.caKey(),
			"--service-cluster-ip-range", serviceCIDR,
			"--leader-elect=false",
			"--secure-port=0",
			// kwok's heartbeat comes every 20-25s, and a change of the node
			// (a cordon) puts it off by as much again: 50s (the default)
			// would mark a node that is cordoned and uncordoned a few times
			// NotReady, and taint it.
			"--node-monitor-grace-period=2m",
			// default is /usr/libexec/kubernetes/..., which it would create
			"--flex-volume-plugin-dir", filepath.Join(e.stateDir, "flexvolume"),
		}},
		{Name: "kube-scheduler", Args: []string{
			"--kubeconfig", p.componentsConfig(),
			"--leader-elect=false",
			"--secure-port=0",
		}},
		// The node's kubelet port (kwok --node-port) is node-exec's: it
		// serves exec and passes the rest to kwok's own server behind it.
		{Name: "node-exec", Ports: map[string]int{"kubelet": ports["kwok"]}, Args: []string{
			"-listen", "127.0.0.1:" + port("kwok"),
			"-kwok", "127.0.0.1:" + port("kwok-server"),
			"-dir", e.execDir,
			"-tls-cert-file", p.nodeCert(),
			"-tls-private-key-file", p.nodeKey(),
		}},
		{Name: "kwok", Ports: map[string]int{"server": ports["kwok-server"]}, Args: []string{
			"--kubeconfig", p.componentsConfig(),
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
			"--node-ip", "127.0.0.1",
			"--node-port", port("kwok"),
			"--server-address", "127.0.0.1:" + port("kwok-server"),
			"--cidr", podCIDR,
			"-c", e.kwokConfig,
		}},
		// kwok-node-1 has a kwok of its own (kwok-1, behind a node-exec of
		// its own): its kubelet port is another one, where kwok-1 serves
		// kwok-node-1's metrics on /metrics/resource. One kwok for both
		// nodes would give both one kubelet address, and metrics-server
		// would read kwok-node-0's metrics for kwok-node-1.
		{Name: "node-exec-1", Bin: "node-exec", Ports: map[string]int{"kubelet": ports["kwok-1"]}, Args: []string{
			"-listen", "127.0.0.1:" + port("kwok-1"),
			"-kwok", "127.0.0.1:" + port("kwok-1-server"),
			"-dir", e.execDir,
			"-tls-cert-file", p.nodeCert(),
			"-tls-private-key-file", p.nodeKey(),
		}},
		{Name: "kwok-1", Bin: "kwok", Ports: map[string]int{"server": ports["kwok-1-server"]}, Args: []string{
			"--kubeconfig", p.componentsConfig(),
			"--manage-single-node", node1Name,
			"--node-ip", "127.0.0.1",
			"--node-port", port("kwok-1"),
			"--server-address", "127.0.0.1:" + port("kwok-1-server"),
			"--cidr", node1PodCIDR,
			"-c", e.kwok1Config,
		}},
		{Name: "metrics-server", Ports: map[string]int{"secure": ports["metrics-server"]}, Args: []string{
			"--secure-port", port("metrics-server"),
			"--bind-address", "127.0.0.1",
			"--tls-cert-file", p.metricsServerCert(),
			"--tls-private-key-file", p.metricsServerKey(),
			"--kubeconfig", p.componentsConfig(),
			"--authentication-kubeconfig", p.componentsConfig(),
			"--authorization-kubeconfig", p.componentsConfig(),
			// kwok's kubelet endpoint serves a self-signed certificate.
			"--kubelet-insecure-tls",
			"--kubelet-use-node-status-port",
			"--kubelet-preferred-address-types", "InternalIP",
			"--metric-resolution", "15s",
		}},
	}
}

// bringUp brings the sandbox st describes up: it writes the generated
// configuration, starts in order each component that is not running
// (fresh: all of them, on empty data), waits for each one that the next
// ones need, creates the sandbox's own objects and waits until the node is
// Ready. On failure it stops what it started (a fresh start: everything,
// and its state is dropped by the caller).
func (e *env) bringUp(st *state, p *pki, fresh bool) (path string, err error) {
	t0 := time.Now()
	if err := p.ensureComponentCerts(); err != nil {
		return "", fmt.Errorf("component certificates: %w", err)
	}
	for _, d := range []string{e.logDir, e.execDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := e.writeKwokConfig(e.kwokConfig, nodeName, st.Ports["echo-http"], st.Ports["echo-tcp"]); err != nil {
		return "", err
	}
	if err := e.writeKwokConfig(e.kwok1Config, node1Name, st.Ports["echo-http"], st.Ports["echo-tcp"]); err != nil {
		return "", err
	}
	if err := e.ensurePodLog(); err != nil {
		return "", err
	}
	if err := e.writeAuditPolicy(); err != nil {
		return "", err
	}
	if err := e.writeEgressConfig(); err != nil {
		return "", err
	}
	// The controllers' kubeconfig, before they start.
	if err := e.writeKubeconfigs(p, st.Server); err != nil {
		return "", err
	}
	st.Ready = false
	if err := e.writeState(st); err != nil {
		return "", err
	}

	var procs []*proc
	// Stop what was started on failure or interrupt.
	sigc := make(chan os.Signal, 1)
	signal.Notify(sigc, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigc)
	defer func() {
		if err == nil {
			return
		}
		logf("startup failed; stopping the components started so far")
		var pids []int
		var names []string
		for i := len(procs) - 1; i >= 0; i-- {
			pids = append(pids, procs[i].cmd.Process.Pid)
			names = append(names, procs[i].name)
		}
		stopPids(pids, names, 10*time.Second)
	}()
	// wait polls cond until it is true, a component started here dies, the
	// deadline passes or we are interrupted. blame names the component to
	// report on timeout.
	wait := func(what string, blame string, deadline time.Time, cond func() (bool, error)) error {
		var lastErr error
		for {
			for _, pr := range procs {
				if pr.exited() {
					return &componentError{name: pr.name, log: pr.log, err: fmt.Errorf("exited early (%v)", pr.err)}
				}
			}
			ok, cerr := cond()
			if ok {
				return nil
			}
			if cerr != nil {
				lastErr = cerr
			}
			if time.Now().After(deadline) {
				msg := fmt.Errorf("timed out waiting for %s", what)
				if lastErr != nil {
					msg = fmt.Errorf("timed out waiting for %s (last error: %v)", what, lastErr)
				}
				return &componentError{name: blame, log: filepath.Join(e.logDir, blame+".log"), err: msg}
			}
			select {
			case sig := <-sigc:
				return fmt.Errorf("%w by %v", errInterrupted, sig)
			case <-time.After(pollInterval):
			}
		}
	}
	admin, err := newAPIClient(st.Server, p.caPEM, p.adminToken)
	if err != nil {
		return "", err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}

	var started []string
	for i := range st.Components {
		c := &st.Components[i]
		if !fresh && e.ourProcess(c.Pid) {
			continue
		}
		if err := waitPortsFree(c.Name, c.Ports); err != nil {
			return "", err
		}
		if fresh {
			logf("starting %s%s", c.Name, portList(c.Ports))
		}
		pr, err := e.startLog(c.Name, c.bin(), !fresh, c.Args...)
		if err != nil {
			return "", err
		}
		procs = append(procs, pr)
		started = append(started, c.Name)
		c.Pid, c.Log = pr.cmd.Process.Pid, pr.log
		if err := e.writeState(st); err != nil {
			return "", err
		}
		switch c.Name {
		case "etcd":
			err := wait("etcd /health", c.Name, time.Now().Add(etcdTimeout), func() (bool, error) {
				resp, err := hc.Get("http://127.0.0.1:" + strconv.Itoa(st.Ports["etcd-client"]) + "/health")
				if err != nil {
					return false, err
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusOK, nil
			})
			if err != nil && !fresh && pr.exited() {
				return "", &etcdDataError{err: err}
			}
			if err != nil {
				return "", err
			}
		case "kube-apiserver":
			if err := wait("kube-apiserver /readyz", c.Name, time.Now().Add(apiserverTimeout), func() (bool, error) {
				return admin.ready(), nil
			}); err != nil {
				return "", err
			}
			logf("kube-apiserver ready after %s", time.Since(t0).Round(100*time.Millisecond))
		}
	}
	if !fresh && len(started) > 0 {
		logf("restarted %s with their flags, ports and data", strings.Join(started, ", "))
	}

	// The components that kept running need kube-apiserver too.
	if err := wait("kube-apiserver /readyz", "kube-apiserver", time.Now().Add(apiserverTimeout), func() (bool, error) {
		return admin.ready(), nil
	}); err != nil {
		return "", err
	}
	deadline := time.Now().Add(settleTimeout)
	for _, o := range e.sandboxObjects(p, st.Ports["metrics-server"]) {
		if err := wait("creating "+o.path, "kube-apiserver", deadline, func() (bool, error) {
			err := admin.create(o.path, o.obj)
			return err == nil, err
		}); err != nil {
			return "", err
		}
	}
	if err := wait("ServiceAccount default/default", "kube-controller-manager", deadline, func() (bool, error) {
		return admin.get("/api/v1/namespaces/default/serviceaccounts/default", nil)
	}); err != nil {
		return "", err
	}
	for node, kwok := range map[string]string{nodeName: "kwok", node1Name: "kwok-1"} {
		if err := wait("Node "+node+" Ready=True", kwok, deadline, func() (bool, error) {
			return admin.nodeReady(node)
		}); err != nil {
			return "", err
		}
	}
	st.Ready = true
	if err := e.writeState(st); err != nil {
		return "", err
	}
	logf("sandbox up in %s (server %s)", time.Since(t0).Round(100*time.Millisecond), st.Server)
	return e.kubeconfig, nil
}

// waitPortsFree waits up to 10 seconds for the ports a component is about
// to listen on to be free (a killed process's sockets can linger).
func waitPortsFree(name string, ports map[string]int) error {
	for _, k := range sortedKeys(ports) {
		port := ports[k]
		for deadline := time.Now().Add(10 * time.Second); ; {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
			if err == nil {
				l.Close()
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: port %d (%s) is in use by another process (%v); stop it, or `make sandbox-reset` to start anew on other ports", name, port, k, err)
			}
			time.Sleep(pollInterval)
		}
	}
	return nil
}

func portList(ports map[string]int) string {
	var b strings.Builder
	for i, k := range sortedKeys(ports) {
		if i == 0 {
			b.WriteString(" on")
		}
		fmt.Fprintf(&b, " %s=127.0.0.1:%d", k, ports[k])
	}
	return b.String()
}

// egressSocket is the egress guard's Unix socket: absolute, unless that is
// longer than a socket address may be (108 bytes); then relative to the
// state dir, the working directory of every component.
func (e *env) egressSocket() string {
	if p := filepath.Join(e.stateDir, "egress.sock"); len(p) < 100 {
		return p
	}
	return "egress.sock"
}

// writeEgressConfig writes kube-apiserver's egress selector configuration:
// its "cluster" traffic (webhooks by Service, aggregated APIs, kubelets,
// proxies) and its "controlplane" traffic (webhooks by URL, authentication
// webhooks) go through the egress guard. Only etcd is dialled directly.
func (e *env) writeEgressConfig() error {
	var b strings.Builder
	b.WriteString("apiVersion: apiserver.k8s.io/v1beta1\nkind: EgressSelectorConfiguration\negressSelections:\n")
	for _, name := range []string{"cluster", "controlplane"} {
		fmt.Fprintf(&b, `- name: %s
  connection:
    proxyProtocol: HTTPConnect
    transport:
      uds:
        udsName: %s
`, name, e.egressSocket())
	}
	return writeFileAtomic(e.egressCfg, []byte(b.String()), 0o644)
}

func (e *env) writeAuditPolicy() error {
	const policy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
- RequestReceived
rules:
- level: Metadata
`
	return writeFileAtomic(e.auditPol, []byte(policy), 0o644)
}

// writeKubeconfigs writes the user kubeconfig (admin + viewer contexts) and
// the components' admin kubeconfig.
func (e *env) writeKubeconfigs(p *pki, server string) error {
	ca := base64.StdEncoding.EncodeToString(p.caPEM)
	user := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: %[1]s
    certificate-authority-data: %[2]s
users:
- name: sandbox-admin
  user:
    token: %[3]s
- name: sandbox-viewer
  user:
    token: %[4]s
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: sandbox-admin
    namespace: default
- name: sandbox-viewer
  context:
    cluster: sandbox
    user: sandbox-viewer
    namespace: default
current-context: sandbox
preferences: {}
`, server, ca, p.adminToken, p.viewerToken)
	if err := writeFileAtomic(e.kubeconfig, []byte(user), 0o600); err != nil {
		return err
	}
	comp := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: sandbox
  cluster:
    server: %[1]s
    certificate-authority-data: %[2]s
users:
- name: admin
  user:
    token: %[3]s
contexts:
- name: sandbox
  context:
    cluster: sandbox
    user: admin
current-context: sandbox
`, server, ca, p.adminToken)
	return writeFileAtomic(p.componentsConfig(), []byte(comp), 0o600)
}

// down stops everything recorded in state.json (in reverse start order) and
// any stray process running one of our binaries for this state dir (see
// ownedBy; the sandboxes of other state dirs are left alone). It keeps the
// etcd data and state.json (marked not ready), so that `up` resumes the
// same cluster on the same ports. Idempotent.
func (e *env) down() error {
	s, err := e.readState()
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		logf("ignoring unreadable state: %v", err)
	}
	var pids []int
	var names []string
	if s != nil {
		for i := len(s.Components) - 1; i >= 0; i-- {
			c := s.Components[i]
			if e.ourProcess(c.Pid) {
				pids = append(pids, c.Pid)
				names = append(names, c.Name)
			}
		}
	}
	if len(pids) > 0 {
		logf("stopping %d components", len(pids))
	}
	stopPids(pids, names, 10*time.Second)
	if stray := e.strayProcesses(); len(stray) > 0 {
		logf("stopping %d stray processes of %s from %s: %v", len(stray), e.stateDir, e.binDir, stray)
		stopPids(stray, nil, 5*time.Second)
	}
	if s != nil && s.Ready {
		s.Ready = false
		if err := e.writeState(s); err != nil {
			return err
		}
	}
	if left := e.strayProcesses(); len(left) > 0 {
		return fmt.Errorf("processes of %s still running from %s: %v", e.stateDir, e.binDir, left)
	}
	return nil
}

// status prints the state; exit code 0 when running and ready, 3 otherwise.
func (e *env) status() error {
	ok, s := e.healthy()
	if s == nil {
		fmt.Println("sandbox: not running")
		if stray := e.strayProcesses(); len(stray) > 0 {
			fmt.Printf("  stray processes from %s: %v (run `down`)\n", e.binDir, stray)
		}
		return &exitError{code: 3}
	}
	switch {
	case ok:
		fmt.Println("sandbox: running")
	case e.cannotResume(s) == "":
		fmt.Println("sandbox: not running (or not ready); `up` resumes it with its data")
	default:
		fmt.Println("sandbox: not running (or not ready)")
	}
	fmt.Printf("  server:     %s\n", s.Server)
	for _, c := range s.Components {
		st := "running"
		if !e.ourProcess(c.Pid) {
			st = "DEAD"
		}
		ports := ""
		for _, k := range sortedKeys(c.Ports) {
			ports += fmt.Sprintf(" %s=127.0.0.1:%d", k, c.Ports[k])
		}
		fmt.Printf("  %-24s pid %-7d %-8s%s\n", c.Name, c.Pid, st, ports)
	}
	fmt.Printf("  logs:       %s\n", e.logDir)
	fmt.Printf("  kubeconfig: %s\n", e.kubeconfig)
	if !ok {
		return &exitError{code: 3}
	}
	return nil
}

// restartAPIServer stops kube-apiserver (SIGTERM, SIGKILL after 10 s) and
// resumes the sandbox, which starts it again with the same flags, so on the
// same port, and waits for /readyz. The rest of the sandbox keeps running.
// It returns the kubeconfig path.
func (e *env) restartAPIServer() (string, error) {
	s, err := e.readState()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &exitError{code: 3, msg: "not running (no " + e.statePath + "); run `up` first"}
		}
		return "", err
	}
	if why := e.cannotResume(s); why != "" {
		return "", fmt.Errorf("%s; run `down` then `up`", why)
	}
	i := slices.IndexFunc(s.Components, func(c component) bool { return c.Name == "kube-apiserver" })
	if i < 0 {
		return "", fmt.Errorf("%s records no kube-apiserver", e.statePath)
	}
	if c := s.Components[i]; e.ourProcess(c.Pid) {
		logf("stopping kube-apiserver (pid %d)", c.Pid)
		stopPids([]int{c.Pid}, []string{"kube-apiserver"}, 10*time.Second)
		if alive(c.Pid) {
			return "", fmt.Errorf("kube-apiserver (pid %d) still running after SIGKILL", c.Pid)
		}
	}
	return e.resume(s)
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

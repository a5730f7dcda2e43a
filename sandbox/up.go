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

// up starts the sandbox (or confirms it is already running) and returns the
// absolute kubeconfig path.
func (e *env) up() (string, error) {
	if ok, _ := e.healthy(); ok {
		if _, err := os.Stat(e.kubeconfig); err != nil {
			p, err := loadPKI(e.pkiDir)
			if err == nil {
				s, _ := e.readState()
				err = e.writeKubeconfigs(p, s.Server)
			}
			if err != nil {
				return "", err
			}
		}
		logf("already running")
		return e.kubeconfig, nil
	}
	if err := e.down(); err != nil {
		return "", err
	}
	if err := e.build(false); err != nil {
		return "", err
	}
	return e.coldStart()
}

// healthy reports whether state.json describes live processes of ours and the
// apiserver answers /readyz with 200.
func (e *env) healthy() (bool, *state) {
	s, err := e.readState()
	if err != nil || !s.Ready || len(s.Components) == 0 || s.BinDir != e.binDir {
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
	// Its processes live: give a busy apiserver some time to answer before
	// deciding to start everything anew (which would wipe the cluster).
	deadline := time.Now().Add(15 * time.Second)
	for !c.ready() {
		if time.Now().After(deadline) {
			return false, s
		}
		time.Sleep(500 * time.Millisecond)
	}
	return true, s
}

func (e *env) coldStart() (path string, err error) {
	t0 := time.Now()
	// Fresh cluster: wipe etcd data and old logs.
	for _, d := range []string{e.etcdDir, e.logDir} {
		if err := os.RemoveAll(d); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		return "", err
	}
	if err := e.writeKwokConfig(); err != nil {
		return "", err
	}
	if err := e.ensurePodLog(); err != nil {
		return "", err
	}
	if err := e.writeAuditPolicy(); err != nil {
		return "", err
	}
	p, err := ensurePKI(e.pkiDir)
	if err != nil {
		return "", err
	}
	ports, err := freePorts(4)
	if err != nil {
		return "", err
	}
	etcdClient, etcdPeer, apiPort, kwokPort := ports[0], ports[1], ports[2], ports[3]
	server := "https://127.0.0.1:" + strconv.Itoa(apiPort)

	st := &state{
		Root:       e.root,
		StateDir:   e.stateDir,
		BinDir:     e.binDir,
		Kubeconfig: e.kubeconfig,
		Server:     server,
		Ports:      map[string]int{"etcd-client": etcdClient, "etcd-peer": etcdPeer, "apiserver": apiPort, "kwok": kwokPort},
		StartedAt:  time.Now().UTC(),
	}
	var procs []*proc
	// Stop everything on failure or interrupt.
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
		os.Remove(e.statePath)
	}()

	startComp := func(name string, cports map[string]int, args ...string) (*proc, error) {
		pr, err := e.start(name, args...)
		if err != nil {
			return nil, err
		}
		procs = append(procs, pr)
		st.Components = append(st.Components, component{Name: name, Pid: pr.cmd.Process.Pid, Ports: cports, Log: pr.log, Args: args})
		return pr, e.writeState(st)
	}
	// wait polls cond until it is true, a component dies, the deadline passes
	// or we are interrupted. blame names the component to report on timeout.
	wait := func(what string, blame *proc, deadline time.Time, cond func() (bool, error)) error {
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
				return &componentError{name: blame.name, log: blame.log, err: msg}
			}
			select {
			case sig := <-sigc:
				return fmt.Errorf("%w by %v", errInterrupted, sig)
			case <-time.After(pollInterval):
			}
		}
	}

	// etcd
	logf("starting etcd on 127.0.0.1:%d", etcdClient)
	clientURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	etcd, err := startComp("etcd", map[string]int{"client": etcdClient, "peer": etcdPeer},
		"--name", "default",
		"--data-dir", e.etcdDir,
		"--listen-client-urls", clientURL,
		"--advertise-client-urls", clientURL,
		"--listen-peer-urls", peerURL,
		"--initial-advertise-peer-urls", peerURL,
		"--initial-cluster", "default="+peerURL,
		"--initial-cluster-state", "new",
		"--unsafe-no-fsync",
		"--log-level", "warn",
	)
	if err != nil {
		return "", err
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	err = wait("etcd /health", etcd, time.Now().Add(etcdTimeout), func() (bool, error) {
		resp, err := hc.Get(clientURL + "/health")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return "", err
	}

	// kube-apiserver
	logf("starting kube-apiserver on %s", server)
	apiserver, err := startComp("kube-apiserver", map[string]int{"secure": apiPort},
		"--etcd-servers", clientURL,
		"--secure-port", strconv.Itoa(apiPort),
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
		"--service-cluster-ip-range", "10.0.0.0/24",
		"--allow-privileged=true",
		"--kubelet-preferred-address-types", "InternalIP",
		"--audit-policy-file", e.auditPol,
		"--audit-log-path", filepath.Join(e.logDir, "audit.log"),
		"--audit-log-maxsize", "100",
		"--audit-log-maxbackup", "1",
	)
	if err != nil {
		return "", err
	}
	admin, err := newAPIClient(server, p.caPEM, p.adminToken)
	if err != nil {
		return "", err
	}
	err = wait("kube-apiserver /readyz", apiserver, time.Now().Add(apiserverTimeout), func() (bool, error) {
		return admin.ready(), nil
	})
	if err != nil {
		return "", err
	}
	logf("kube-apiserver ready after %s", time.Since(t0).Round(100*time.Millisecond))

	if err := e.writeKubeconfigs(p, server); err != nil {
		return "", err
	}
	if err := admin.create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", viewerBinding()); err != nil {
		return "", err
	}
	if err := admin.create("/api/v1/nodes", kwokNode()); err != nil {
		return "", err
	}

	// Controllers.
	logf("starting kube-controller-manager, kube-scheduler, kwok")
	kcm, err := startComp("kube-controller-manager", nil,
		"--kubeconfig", p.componentsConfig(),
		"--service-account-private-key-file", p.saKey(),
		"--root-ca-file", p.caCert(),
		"--cluster-signing-cert-file", p.caCert(),
		"--cluster-signing-key-file", p.caKey(),
		"--leader-elect=false",
		"--secure-port=0",
		// default is /usr/libexec/kubernetes/..., which it would create
		"--flex-volume-plugin-dir", filepath.Join(e.stateDir, "flexvolume"),
	)
	if err != nil {
		return "", err
	}
	if _, err := startComp("kube-scheduler", nil,
		"--kubeconfig", p.componentsConfig(),
		"--leader-elect=false",
		"--secure-port=0",
	); err != nil {
		return "", err
	}
	kwok, err := startComp("kwok", map[string]int{"server": kwokPort},
		"--kubeconfig", p.componentsConfig(),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector", "kwok.x-k8s.io/node=fake",
		"--node-ip", "127.0.0.1",
		"--node-port", strconv.Itoa(kwokPort),
		"--server-address", "127.0.0.1:"+strconv.Itoa(kwokPort),
		"-c", e.kwokConfig,
	)
	if err != nil {
		return "", err
	}

	deadline := time.Now().Add(settleTimeout)
	err = wait("ServiceAccount default/default", kcm, deadline, func() (bool, error) {
		return admin.get("/api/v1/namespaces/default/serviceaccounts/default", nil)
	})
	if err != nil {
		return "", err
	}
	err = wait("Node "+nodeName+" Ready=True", kwok, deadline, func() (bool, error) {
		return admin.nodeReady(nodeName)
	})
	if err != nil {
		return "", err
	}
	st.Ready = true
	if err := e.writeState(st); err != nil {
		return "", err
	}
	logf("sandbox up in %s (server %s)", time.Since(t0).Round(100*time.Millisecond), server)
	return e.kubeconfig, nil
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
// ownedBy; the sandboxes of other state dirs are left alone). Idempotent.
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
	if err := os.Remove(e.statePath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
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
	if ok {
		fmt.Println("sandbox: running")
	} else {
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
// starts it again with the same flags, so on the same port, then waits for
// /readyz. The rest of the sandbox keeps running. It returns the kubeconfig
// path.
func (e *env) restartAPIServer() (string, error) {
	s, err := e.readState()
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", &exitError{code: 3, msg: "not running (no " + e.statePath + "); run `up` first"}
		}
		return "", err
	}
	i := slices.IndexFunc(s.Components, func(c component) bool { return c.Name == "kube-apiserver" })
	if i < 0 {
		return "", fmt.Errorf("%s records no kube-apiserver", e.statePath)
	}
	c := &s.Components[i]
	running := e.ourProcess(c.Pid)
	args := c.Args
	if len(args) == 0 && running {
		// Started by an older sandbox that did not record the flags: take
		// them from the running process.
		b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/cmdline")
		if err != nil {
			return "", err
		}
		if argv := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00"); len(argv) > 1 {
			args = argv[1:]
		}
	}
	if len(args) == 0 {
		return "", fmt.Errorf("kube-apiserver is not running and %s records no flags for it; run `down` then `up`", e.statePath)
	}
	port := s.Ports["apiserver"]
	if j := slices.Index(args, "--secure-port"); port == 0 || j < 0 || j+1 >= len(args) || args[j+1] != strconv.Itoa(port) {
		return "", fmt.Errorf("kube-apiserver flags %v do not match its port %d in %s", args, port, e.statePath)
	}
	p, err := loadPKI(e.pkiDir)
	if err != nil {
		return "", err
	}
	t0 := time.Now()
	if running {
		logf("stopping kube-apiserver (pid %d)", c.Pid)
		stopPids([]int{c.Pid}, []string{"kube-apiserver"}, 10*time.Second)
		if alive(c.Pid) {
			return "", fmt.Errorf("kube-apiserver (pid %d) still running after SIGKILL", c.Pid)
		}
	}
	// Its listening socket goes with it; wait until the port is free again
	// (it is the one every kubeconfig names).
	for deadline := time.Now().Add(10 * time.Second); ; {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			l.Close()
			break
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("port %d still in use after kube-apiserver stopped: %v", port, err)
		}
		time.Sleep(pollInterval)
	}
	logf("starting kube-apiserver on %s", s.Server)
	pr, err := e.startLog("kube-apiserver", true, args...)
	if err != nil {
		return "", err
	}
	c.Pid, c.Args, c.Log = pr.cmd.Process.Pid, args, pr.log
	if err := e.writeState(s); err != nil {
		return "", err
	}
	admin, err := newAPIClient(s.Server, p.caPEM, p.adminToken)
	if err != nil {
		return "", err
	}
	for deadline := time.Now().Add(apiserverTimeout); !admin.ready(); {
		if pr.exited() {
			return "", &componentError{name: pr.name, log: pr.log, err: fmt.Errorf("exited early (%v)", pr.err)}
		}
		if time.Now().After(deadline) {
			return "", &componentError{name: pr.name, log: pr.log, err: errors.New("timed out waiting for kube-apiserver /readyz")}
		}
		time.Sleep(pollInterval)
	}
	logf("kube-apiserver restarted in %s (pid %d)", time.Since(t0).Round(100*time.Millisecond), c.Pid)
	return e.kubeconfig, nil
}

func sortedKeys(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}

package builtins

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/k8sh/k8sh/kube/kubetest"
	"github.com/k8sh/k8sh/lib/file"
)

// testCert writes a self-signed certificate and its key into dir.
func testCert(t *testing.T, dir string) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "k8sh.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write(t, certPath, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	write(t, keyPath, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certPath, keyPath
}

func write(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestNewLikeKubectlE2E: yaml.encode(k8s.new(KIND, NAME, ...)) is, byte for
// byte, what kubectl create KIND NAME ... --dry-run=client -o yaml prints
// (in the test's namespace: kubectl's -n sets metadata.namespace, as
// namespace= does), for every generator and variant, files included.
func TestNewLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	k := env.Kubectl(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "app.conf"), "a = 1\nb = 2\n")
	write(t, filepath.Join(dir, "conf.d", "one.txt"), "one\n")
	write(t, filepath.Join(dir, "conf.d", "two.txt"), "two\n")
	write(t, filepath.Join(dir, "bin.dat"), "\xff\xfe\x00binary")
	write(t, filepath.Join(dir, "app.env"), "\ufeff# settings\nMODE=prod\n  LEVEL=3\n\nFROM_ENV\nEMPTY=\n")
	write(t, filepath.Join(dir, "docker.json"), `{"auths":{"r.example":{"auth":"dTpw"}}}`)
	t.Setenv("FROM_ENV", "inherited")
	crt, key := testCert(t, dir)
	k.Must(t, "", "create", "cronjob", "nightly", "--image=busybox", "--schedule=0 3 * * *", "--", "date")

	D := dir + "/"
	cases := []struct {
		kubectl string // args of kubectl create, split on spaces; "--" and after at the end
		star    string // the fields of k8s.new after kind and name
	}{
		{"deployment web --image=nginx --port=80 --replicas=3", `"deployment", "web", image="nginx", port=80, replicas=3`},
		{"deployment multi --image=nginx --image=redis:7 --image=r.example/a/b@sha256:0123", `"deploy", "multi", image=["nginx", "redis:7", "r.example/a/b@sha256:0123"]`},
		{"deployment cmd --image=busybox -- sleep 3600", `"deployment", "cmd", image="busybox", command=["sleep", "3600"]`},
		{"service clusterip web --tcp=80:8080 --tcp=443:https", `"service", "web", tcp=["80:8080", "443:https"]`},
		{"service clusterip headless --clusterip=None", `"svc", "headless", cluster_ip="None"`},
		{"service nodeport np --tcp=80:8080 --node-port=30080", `"service nodeport", "np", tcp="80:8080", node_port=30080`},
		{"service loadbalancer lb --tcp=80", `"service", "lb", type="LoadBalancer", tcp=["80"]`},
		{"service externalname ext --external-name=db.example.com --tcp=5432", `"service externalname", "ext", external_name="db.example.com", tcp="5432"`},
		{"configmap lit --from-literal=a=1 --from-literal=b=x=y", `"configmap", "lit", from_literal={"a": "1", "b": "x=y"}`},
		{"configmap files --from-file=" + D + "app.conf --from-file=renamed=" + D + "app.conf --from-file=" + D + "conf.d --from-file=" + D + "bin.dat --from-literal=z=1",
			`"cm", "files", from_file=["` + D + `app.conf", "renamed=` + D + `app.conf", "` + D + `conf.d", "` + D + `bin.dat"], from_literal=["z=1"]`},
		{"configmap env --from-env-file=" + D + "app.env", `"configmap", "env", from_env_file="` + D + `app.env"`},
		{"configmap hashed --from-literal=a=1 --append-hash", `"configmap", "hashed", from_literal={"a": "1"}, append_hash=True`},
		{"secret generic lit --from-literal=password=s3cr=t --type=kubernetes.io/basic-auth", `"secret", "lit", from_literal={"password": "s3cr=t"}, type="kubernetes.io/basic-auth"`},
		{"secret generic files --from-file=" + D + "app.conf --from-file=" + D + "bin.dat --append-hash", `"secret generic", "files", from_file=["` + D + `app.conf", "` + D + `bin.dat"], append_hash=True`},
		{"secret generic env --from-env-file=" + D + "app.env", `"secret", "env", from_env_file=["` + D + `app.env"]`},
		{"secret tls tls --cert=" + crt + " --key=" + key, `"secret tls", "tls", cert="` + crt + `", key="` + key + `"`},
		{"secret docker-registry reg --docker-username=u --docker-password=p --docker-email=u@example.com --docker-server=r.example", `"secret docker-registry", "reg", docker_username="u", docker_password="p", docker_email="u@example.com", docker_server="r.example"`},
		{"secret docker-registry hub --docker-username=u --docker-password=p", `"secret docker-registry", "hub", docker_username="u", docker_password="p"`},
		{"secret docker-registry fromfile --from-file=.dockerconfigjson=" + D + "docker.json", `"secret docker-registry", "fromfile", from_file=[".dockerconfigjson=` + D + `docker.json"]`},
		{"job once --image=busybox -- echo hi", `"job", "once", image="busybox", command=["echo", "hi"]`},
		{"job manual --from=cronjob/nightly", `"job", "manual", from_cronjob="nightly"`},
		{"cronjob cj --image=busybox --schedule=*/5_*_*_*_* --restart=Never -- date", `"cronjob", "cj", image="busybox", schedule="*/5 * * * *", restart="Never", command=["date"]`},
		{"namespace team-a", `"namespace", "team-a"`},
		{"serviceaccount bot", `"sa", "bot"`},
		{"role reader --verb=get --verb=list --verb=get --resource=pods,deployments.apps,deploy,pods/log --resource-name=a --resource-name=b", `"role", "reader", verb=["get", "list", "get"], resource=["pods", "deployments.apps", "deploy", "pods/log"], resource_name=["a", "b"]`},
		{"role all --verb=* --resource=*", `"role", "all", verb="*", resource="*"`},
		{"clusterrole nodes --verb=get --resource=nodes,cm --non-resource-url=/healthz --non-resource-url=/metrics/*", `"clusterrole", "nodes", verb=["get"], resource=["nodes", "cm"], non_resource_url=["/healthz", "/metrics/*"]`},
		{"clusterrole binder --verb=bind --verb=escalate --resource=roles.rbac.authorization.k8s.io", `"clusterrole", "binder", verb=["bind", "escalate"], resource="roles.rbac.authorization.k8s.io"`},
		{"clusterrole agg --aggregation-rule=rbac.example.com/aggregate=true", `"clusterrole", "agg", aggregation_rule={"rbac.example.com/aggregate": "true"}`},
		{"rolebinding rb --role=reader --user=alice --user=bob --group=devs --serviceaccount=kube-system:bot", `"rolebinding", "rb", role="reader", user=["alice", "bob"], group="devs", serviceaccount="kube-system:bot"`},
		{"rolebinding crb-in-ns --clusterrole=view --serviceaccount=ns1:a", `"rolebinding", "crb-in-ns", clusterrole="view", serviceaccount=["ns1:a"]`},
		{"clusterrolebinding admins --clusterrole=cluster-admin --group=admins", `"clusterrolebinding", "admins", clusterrole="cluster-admin", group="admins"`},
		{"ingress web --class=nginx --rule=foo.com/=svc:80 --rule=foo.com/api*=api:http,tls=foo-tls --rule=bar.com/*=bar:8080,tls --rule=/x=x:1 --default-backend=def:80 --annotation=a=b --annotation=c=",
			`"ingress", "web", ingress_class="nginx", rule=["foo.com/=svc:80", "foo.com/api*=api:http,tls=foo-tls", "bar.com/*=bar:8080,tls", "/x=x:1"], default_backend="def:80", annotation={"a": "b", "c": ""}`},
		{"poddisruptionbudget min --selector=app=web,tier=fe --min-available=50%", `"pdb", "min", selector="app=web,tier=fe", min_available="50%"`},
		{"pdb max --selector=app=web --max-unavailable=1", `"poddisruptionbudget", "max", selector={"app": "web"}, max_unavailable=1`},
		{"priorityclass high --value=1000 --global-default=true --description=important --preemption-policy=Never", `"priorityclass", "high", value=1000, global_default=True, description="important", preemption_policy="Never"`},
		{"priorityclass low --value=-5", `"pc", "low", value=-5`},
		{"quota q --hard=cpu=1,memory=1Gi,pods=10 --scopes=BestEffort,NotTerminating", `"quota", "q", hard={"cpu": "1", "memory": "1Gi", "pods": "10"}, scopes=["BestEffort", "NotTerminating"]`},
	}
	const sep = "----8<----"
	var src strings.Builder
	for _, c := range cases {
		src.WriteString(`print(yaml.encode(k8s.new(` + c.star + `, namespace="NS")) + "` + sep + `")` + "\n")
	}
	got := strings.Split(star(t, env, src.String()), sep+"\n")
	for i, c := range cases {
		args, cmd, _ := strings.Cut(c.kubectl, " -- ")
		argv := append([]string{"create"}, strings.Fields(args)...)
		for j := range argv {
			argv[j] = strings.ReplaceAll(argv[j], "_", " ") // the cron schedules
		}
		argv = append(argv, "--dry-run=client", "-o", "yaml")
		if cmd != "" {
			argv = append(append(argv, "--"), strings.Fields(cmd)...)
		}
		want := k.Must(t, "", argv...)
		if i >= len(got) || got[i] != want {
			g := ""
			if i < len(got) {
				g = got[i]
			}
			t.Errorf("kubectl %s:\n--- kubectl\n%s--- k8s.new(%s)\n%s", strings.Join(argv, " "), want, c.star, g)
		}
	}
}

// TestNewErrorsE2E: bad fields are refused with the builtin's name, as
// kubectl refuses them; with --sandbox a file outside the script's
// directory is not read.
func TestNewErrorsE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	dir := t.TempDir()
	write(t, filepath.Join(dir, "in.txt"), "inside")
	outside := filepath.Join(t.TempDir(), "out.txt")
	write(t, outside, "outside")
	s := &Session{Cluster: e2eClient(t, env, "sandbox"), File: file.Options{Dir: dir, Sandbox: true}}
	runSession(t, s, `
assert.fails(lambda: k8s.new("deploymnt", "x"), 'k8s.new: unknown kind "deploymnt"')
assert.fails(lambda: k8s.new("deployment", "x"), "k8s.new: image is required")
assert.fails(lambda: k8s.new("deployment", "x", image="a", schedule="x"), "k8s.new: deployment takes no field schedule \\(its fields: command, image, namespace, port, replicas\\)")
assert.fails(lambda: k8s.new("service", "x"), "at least one tcp port specifier must be provided")
assert.fails(lambda: k8s.new("service", "x", type="bogus"), 'unknown service type "bogus"')
assert.fails(lambda: k8s.new("service nodeport", "x", type="ClusterIP", tcp="80"), '"service nodeport" names the service type: give it once')
assert.fails(lambda: k8s.new("service nodeport", "x", cluster_ip="None"), "takes no field cluster_ip")
assert.fails(lambda: k8s.new("pdb", "x", selector="a=b"), "one of min_available or max_unavailable must be specified")
assert.fails(lambda: k8s.new("role", "x", verb="get"), "at least one resource must be specified")
assert.fails(lambda: k8s.new("role", "x", verb="use", resource="pods"), "can not perform 'use' on 'pods' in group ''")
assert.fails(lambda: k8s.new("rolebinding", "x", role="a", clusterrole="b"), "exactly one of clusterrole or role must be specified")
assert.fails(lambda: k8s.new("ingress", "x", rule="nope"), "rule nope is invalid")
assert.fails(lambda: k8s.new("job", "x", from_cronjob="absent"), 'k8s.new: cronjobs.batch "absent" not found')
assert.fails(lambda: k8s.new("configmap", "x", from_literal=["novalue"]), "invalid literal source novalue")
assert.fails(lambda: k8s.new("configmap", "x", from_literal={"a": "1"}, from_env_file="in.txt"), "from_env_file cannot be combined")
# --sandbox: inside the script's directory only
assert.eq(k8s.new("configmap", "x", from_file="in.txt").data["in.txt"], "inside")
assert.fails(lambda: k8s.new("configmap", "x", from_file="OUTSIDE"), "outside the script's directory, not allowed with --sandbox")
assert.fails(lambda: k8s.new("configmap", "x", from_file="../x"), "outside the script's directory")
# nothing was sent: a manifest only
assert.eq(k8s.get("configmap", "x", default=None), None)
`, map[string]string{"OUTSIDE": outside})
}

// TestNewSentLikeKubectlE2E: what k8s.new makes is sent as kubectl create
// sends it: k8s.apply, k8s.create and k8s.update of it give the objects
// kubectl create gives in another namespace (the server's fields aside).
// An object the cluster has not stored is not a write-back of a read one.
func TestNewSentLikeKubectlE2E(t *testing.T) {
	env := kubetest.Sandbox(t)
	k := env.Kubectl(t)
	other := env.CreateNamespace(t)
	k.Must(t, "", "-n", other, "create", "deployment", "web", "--image=nginx", "--replicas=3")
	k.Must(t, "", "-n", other, "create", "configmap", "cfg", "--from-literal=a=1")
	k.Must(t, "", "-n", other, "create", "service", "clusterip", "svc", "--tcp=80:8080")
	s := &Session{Cluster: e2eClient(t, env, "sandbox")}
	runSession(t, s, `
d = k8s.apply(k8s.new("deployment", "web", image="nginx", replicas=3))
assert.eq(d.spec.replicas, 3)
c = k8s.create(k8s.new("configmap", "cfg", from_literal={"a": "1"}))
assert.eq(dict(c.data), {"a": "1"})
k8s.apply(k8s.new("service", "svc", tcp="80:8080"))
u = k8s.update(k8s.new("configmap", "cfg", from_literal={"a": "1"}))
assert.eq(dict(u.data), {"a": "1"})
`, nil)
	for _, obj := range []string{"deployment/web", "configmap/cfg", "service/svc"} {
		q := []string{"get", obj, "-o", "jsonpath={.spec}{.data}{.metadata.labels}"}
		mine := k.Must(t, "", append([]string{"-n", env.Namespace}, q...)...)
		theirs := k.Must(t, "", append([]string{"-n", other}, q...)...)
		if strings.Contains(obj, "service") {
			// The ClusterIP the server picked differs.
			re := regexp.MustCompile(`"clusterIPs?":(\["[^"]*"\]|"[^"]*")`)
			mine, theirs = re.ReplaceAllString(mine, ""), re.ReplaceAllString(theirs, "")
		}
		if mine != theirs {
			t.Errorf("%s: k8s.new then sent:\n%s\nkubectl create:\n%s", obj, mine, theirs)
		}
	}
}

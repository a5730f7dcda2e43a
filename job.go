package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/printers"
	"k8s.io/client-go/kubernetes/scheme"

	"github.com/k8sh/k8sh/builtins"
	"github.com/k8sh/k8sh/kube"
	"github.com/k8sh/k8sh/lib/load"
	"github.com/k8sh/k8sh/lib/sys"
)

// addJobCommand adds `k8sh job SCRIPT [args]`: the script, the modules it
// loads, a ServiceAccount and the RBAC rules it needs, and a Job (a
// CronJob with --schedule) that runs it in the cluster. The status of the
// command is left in *status.
func addJobCommand(root *cobra.Command, flags *genericclioptions.ConfigFlags, stdout, stderr io.Writer, status *int) {
	var o jobOptions
	cmd := &cobra.Command{
		Use:   "job SCRIPT [args...] [-n NAMESPACE] [--schedule CRON] [--image IMAGE] [--rules FILE] [--name NAME] [--dry-run]",
		Short: "Run a script in the cluster: a Job (or CronJob) with least-privilege RBAC rules",
		Long: `k8sh job makes SCRIPT run in the cluster, in the namespace of -n (the context's
by default), as a Job, or as a CronJob with --schedule:
  - a ConfigMap holding the script and every module it load()s, mounted at
    /scripts, the script as /scripts/NAME.star;
  - a ServiceAccount NAME, and the RBAC rules the script needs: a Role in each
    namespace it reaches and a ClusterRole for cluster-scoped kinds, calls
    across all namespaces and non-resource URLs, each with its binding;
  - the Job or CronJob, whose pod runs "k8sh /scripts/NAME.star args..." as
    the ServiceAccount (non-root, read-only root filesystem): k8sh reads the
    in-cluster config and exits with the script's status, so the Job fails
    when the script does; its logs are the script's output.
The rules are derived from what the script does: k8sh runs it once here, a
trial run with --dry-run's semantics (reads are real, changes are server-side
dry runs: nothing is changed), records its API requests, and writes rules that
allow exactly their verbs on their resources and subresources in their
namespaces. They are printed (on stderr) for review; --rules FILE gives them
by hand instead (the same YAML: namespaces: {NS: [rules]}, cluster: [rules];
or a list of rules for the job's namespace), and then there is no trial run.
The objects are applied server-side, as k8s.apply applies them, and named as
kubectl apply --server-side names them; --dry-run prints them as YAML, as
kubectl create --dry-run=client -o yaml prints objects, and creates nothing.
A context the k8sh config makes read-only refuses it, and a protected one
wants --yes, as they do k8s.apply. Arguments of the script that start with
"-" go after "--".`,
		Example: `  k8sh job check.star -n ops --dry-run
  k8sh job check.star -n ops --schedule "*/5 * * * *"
  k8sh job cleanup.star -n ops --rules rules.yaml -- --older-than 7d`,
		DisableFlagsInUseLine: true,
		SilenceErrors:         true,
		SilenceUsage:          true,
		Args:                  cobra.MinimumNArgs(1),
		ValidArgsFunction:     completeScript,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.script, o.args = args[0], args[1:]
			*status = runJob(flags, o, stdout, stderr)
			return nil
		},
	}
	cmd.Flags().StringVar(&o.schedule, "schedule", "", "make a CronJob that runs the script on this cron schedule (\"*/5 * * * *\") instead of a Job that runs it once")
	cmd.Flags().StringVar(&o.image, "image", "", "the image of k8sh to run (default "+defaultImage()+")")
	cmd.Flags().StringVar(&o.rules, "rules", "", "take the RBAC rules from FILE instead of deriving them from a trial run")
	cmd.Flags().StringVar(&o.name, "name", "", "the name of the objects (default: the script's file name without .star)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "print the objects as YAML instead of creating them")
	cmd.Flags().BoolVar(&o.yes, "yes", os.Getenv("K8SH_YES") == "1", "create them in a protected context (also K8SH_YES=1)")
	root.AddCommand(cmd)
}

type jobOptions struct {
	script   string
	args     []string
	schedule string
	image    string
	rules    string
	name     string
	dryRun   bool
	yes      bool
}

// imageRepository is where k8sh's images are published, built from the
// Dockerfile at the root of the repository.
const imageRepository = "ghcr.io/k8sh/k8sh"

// defaultImage is the image of this k8sh: imageRepository tagged with its
// release version, or "latest" for a build that is not a release.
func defaultImage() string {
	tag := "latest"
	if bi, ok := debug.ReadBuildInfo(); ok && releaseVersion.MatchString(bi.Main.Version) {
		tag = bi.Main.Version
	}
	return imageRepository + ":" + tag
}

// releaseVersion is a release's module version (not a pseudo-version, not
// "(devel)").
var releaseVersion = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)

func runJob(flags *genericclioptions.ConfigFlags, o jobOptions, stdout, stderr io.Writer) int {
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "k8sh job: "+format+"\n", a...)
		return exitError
	}
	name := o.name
	if name == "" {
		name = scriptName(o.script)
	}
	if errs := validation.IsDNS1123Label(name); len(errs) > 0 {
		fmt.Fprintf(stderr, "k8sh job: %q is not a valid name: %s (give one with --name)\n", name, strings.Join(errs, "; "))
		return exitUsage
	}
	if max := 52; o.schedule != "" && len(name) > max { // a CronJob's Jobs add 11 characters
		fmt.Fprintf(stderr, "k8sh job: the name of a CronJob has at most %d characters: %q has %d (give another with --name)\n", max, name, len(name))
		return exitUsage
	}
	files, env, err := bundleScript(o.script, name)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return exitUsage
	}
	info, err := kube.NewClient(flags).Context()
	if err != nil {
		return fail("%v", err)
	}
	ns := info.Namespace
	if !o.dryRun {
		policy, err := builtins.LoadPolicy(configPath())
		if err != nil {
			return fail("%v", err)
		}
		switch {
		case policy.IsReadOnly(info.Name):
			return fail("context %q is read-only (read_only in the k8sh config): refusing to create the objects (--dry-run prints them)", info.Name)
		case policy.IsProtected(info.Name) && !o.yes:
			return fail("context %q is protected: refusing to create the objects without --yes (or K8SH_YES=1)", info.Name)
		}
	}
	if !o.dryRun && o.schedule == "" {
		// A Job runs once, and its pod template cannot change: applying
		// another would fail after the other objects had changed.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		exists, err := kube.NewClient(flags).Exists(ctx, "jobs.batch", name, ns)
		stop()
		if err != nil {
			return fail("%v", err)
		}
		if exists {
			return fail("job.batch/%s exists in namespace %s, and a Job runs once: delete it first (kubectl delete job %s -n %s) to run the script again, or give another --name, or run it on a --schedule", name, ns, name, ns)
		}
	}
	var rules kube.Rules
	if o.rules != "" {
		data, err := os.ReadFile(o.rules)
		if err != nil {
			fmt.Fprintf(stderr, "k8sh job: --rules: %v\n", err)
			return exitUsage
		}
		if rules, err = kube.ParseRules(data, o.rules, ns); err != nil {
			fmt.Fprintf(stderr, "k8sh job: --rules %v\n", err)
			return exitUsage
		}
	} else {
		calls, code := trialRun(flags, ns, o.script, o.args, stderr)
		if code != exitOK {
			return code
		}
		if rules, err = kube.RulesFor(calls); err != nil {
			return fail("%v", err)
		}
		fmt.Fprintf(stderr, "k8sh job: the rules of the %d API requests of the trial run (--rules FILE gives others):\n", len(calls))
		if rules.Empty() {
			fmt.Fprintln(stderr, "{} # none: the script needs no more than every authenticated user may do")
		} else {
			fmt.Fprint(stderr, rules.YAML())
		}
	}
	image := o.image
	if image == "" {
		image = defaultImage()
	}
	sc := &inCluster{Name: name, Namespace: ns, Image: image, Args: o.args, Files: files, Env: env, Rules: rules}
	kind := "Job"
	if o.schedule != "" {
		kind = "CronJob"
	}
	objs, err := sc.objects(kind, o.schedule)
	if err != nil {
		return fail("%v", err)
	}
	if o.dryRun {
		p := &printers.YAMLPrinter{}
		for _, obj := range objs {
			if err := p.PrintObj(obj, stdout); err != nil {
				return fail("%v", err)
			}
		}
		return exitOK
	}
	us := make([]*unstructured.Unstructured, len(objs))
	for i, obj := range objs {
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
		if err != nil {
			return fail("%v", err)
		}
		us[i] = &unstructured.Unstructured{Object: m}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	out, err := kube.NewClient(flags).Apply(ctx, us, kube.ApplyOptions{Namespace: ns})
	for _, u := range out {
		if u != nil {
			(&printers.NamePrinter{Operation: "serverside-applied"}).PrintObj(u, stdout)
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	return exitOK
}

// scriptName is the name of the objects of a script: its file name
// without .star, as a DNS label (lower case, "-" for what a label cannot
// hold).
func scriptName(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".star")
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	name := strings.Trim(b.String(), "-")
	if len(name) > validation.DNS1123LabelMaxLength {
		name = strings.TrimRight(name[:validation.DNS1123LabelMaxLength], "-")
	}
	return name
}

// trialRun runs the script once, in namespace ns, as a dry run (reads are
// real, changes are server-side dry runs), under a recording of its API
// requests, and returns them. What it prints goes to stderr. A script that
// ends with sys.exit(N) ended as it meant to, whatever N; an error ends
// k8sh job (status 1), as its requests so far may not be all it makes.
func trialRun(flags *genericclioptions.ConfigFlags, ns, script string, args []string, stderr io.Writer) ([]kube.APICall, int) {
	src, err := os.ReadFile(script)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitUsage
	}
	dir, err := filepath.Abs(filepath.Dir(script))
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitUsage
	}
	tf := kube.CopyFlags(flags)
	tf.Namespace = &ns
	rec, err := kube.Record(tf)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitError
	}
	fmt.Fprintf(stderr, "k8sh job: a trial run of %s in namespace %s, to find the API requests it makes:\n", script, ns)
	var unsent []kube.APICall
	code := func() int {
		thread, globals, s, _, err := newThread(tf, options{dryRun: true, now: rec.Now}, append([]string{script}, args...), dir, nil, stderr, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "k8sh job: %v\n", err)
			return exitUsage
		}
		defer builtins.EndSession(thread)
		s.Unsent = func(method, path string) { unsent = append(unsent, kube.APICall{Method: method, URL: path}) }
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
		defer stop()
		sys.SetContext(thread, ctx)
		thread.Load = load.New(fileOptions, maps.Clone(globals), builtins.InheritThread).Load
		go func() {
			<-ctx.Done()
			thread.Cancel("interrupted")
		}()
		_, err = starlark.ExecFileOptions(fileOptions, thread, script, src, globals)
		var exit *sys.ExitError
		switch {
		case err == nil, errors.As(err, &exit):
		case ctx.Err() != nil:
			fmt.Fprintln(stderr, "k8sh: interrupted")
			return exitInterrupt
		default:
			fmt.Fprint(stderr, formatError(err))
			fmt.Fprintf(stderr, "k8sh job: the trial run of %s failed, so the requests it made may not be all it makes: fix it, or give the rules with --rules FILE\n", script)
			return exitError
		}
		return exitOK
	}()
	tmp, err := os.MkdirTemp("", "k8sh-job-")
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitError
	}
	defer os.RemoveAll(tmp)
	path := filepath.Join(tmp, "trial.yaml")
	if err := rec.Save(path); err != nil {
		fmt.Fprintf(stderr, "k8sh job: recording the trial run: %v\n", err)
		return nil, exitError
	}
	if code != exitOK {
		return nil, code
	}
	data, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitError
	}
	c, err := kube.ParseCassette(data, path)
	if err != nil {
		fmt.Fprintf(stderr, "k8sh job: %v\n", err)
		return nil, exitError
	}
	return append(c.Calls(), unsent...), exitOK
}

// scriptsDir is where a script's ConfigMap is mounted in its pod, and
// pathDir where under it the modules found through K8SH_PATH go (the pod's
// K8SH_PATH).
const (
	scriptsDir = "/scripts"
	pathDir    = ".k8sh-path"
)

// maxConfigMap is the most a ConfigMap holds (etcd's limit on an object).
const maxConfigMap = 1 << 20

// scriptFile is one file of a script in the cluster: its ConfigMap key and
// its path under /scripts.
type scriptFile struct {
	Key, Path string
	Src       []byte
}

// bundleScript finds the files of the script at path, to be run in a pod
// as /scripts/NAME.star: the script, and every module it loads, and they
// load, followed statically. A module is where load() finds it (lib/load):
// relative to the file that loads it, else in a K8SH_PATH directory.
// Modules beside or under the script's directory keep their place relative
// to it; those found in K8SH_PATH directories go under /scripts/.k8sh-path,
// and env sets the pod's K8SH_PATH to it. A module above the script's
// directory, or named by an absolute path, has no place in the pod: an
// error says so.
func bundleScript(path, name string) (files []scriptFile, env []corev1.EnvVar, err error) {
	root, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, nil, err
	}
	main, err := filepath.Abs(path)
	if err != nil {
		return nil, nil, err
	}
	var searchPath []string
	for _, d := range filepath.SplitList(os.Getenv("K8SH_PATH")) {
		if d != "" {
			if d, err = filepath.Abs(d); err != nil {
				return nil, nil, err
			}
			searchPath = append(searchPath, d)
		}
	}
	placed := map[string]string{} // path in the pod -> local file
	at := map[string]string{}     // local file -> path in the pod
	var queue []string
	place := func(local, inPod string) error {
		if prev, ok := placed[inPod]; ok && prev != local {
			return fmt.Errorf("%s and %s would both be %s in the pod", prev, local, filepath.Join(scriptsDir, inPod))
		}
		if _, ok := at[local]; !ok {
			placed[inPod], at[local] = local, inPod
			queue = append(queue, local)
		}
		return nil
	}
	if err := place(main, name+".star"); err != nil {
		return nil, nil, err
	}
	usesPath := false
	total := 0
	for len(queue) > 0 {
		file := queue[0]
		queue = queue[1:]
		src, err := os.ReadFile(file)
		if err != nil {
			return nil, nil, err
		}
		total += len(src)
		files = append(files, scriptFile{Path: at[file], Src: src})
		f, err := fileOptions.Parse(file, src, 0)
		if err != nil {
			return nil, nil, err
		}
		var loadErr error
		syntax.Walk(f, func(n syntax.Node) bool {
			ld, ok := n.(*syntax.LoadStmt)
			if !ok || loadErr != nil {
				return loadErr == nil
			}
			module := ld.ModuleName()
			pos := ld.Load
			if filepath.IsAbs(module) {
				loadErr = fmt.Errorf("%s: load(%q): a module named by an absolute path has no place in the pod; load it by a path relative to the script or to K8SH_PATH", pos, module)
				return false
			}
			local, fromPath, found := "", "", false
			if p := filepath.Join(filepath.Dir(file), module); isFile(p) {
				local, found = p, true
			} else {
				for _, d := range searchPath {
					if p := filepath.Join(d, module); isFile(p) {
						local, fromPath, found = p, d, true
						break
					}
				}
			}
			if !found {
				loadErr = fmt.Errorf("%s: load(%q): cannot find the module", pos, module)
				return false
			}
			// In the pod, load() looks beside the loading file first, as
			// here, then in the pod's K8SH_PATH.
			inPod := filepath.Join(filepath.Dir(at[file]), module)
			if fromPath != "" {
				inPod = filepath.Join(pathDir, module)
				usesPath = true
			}
			underPath := strings.HasPrefix(at[file], pathDir+"/") || fromPath != ""
			if inPod == ".." || strings.HasPrefix(inPod, "../") || underPath != strings.HasPrefix(inPod, pathDir+"/") {
				where := "the script's directory " + root
				if underPath {
					where = "its K8SH_PATH directory"
				}
				loadErr = fmt.Errorf("%s: load(%q): %s is outside %s, so it has no place in the pod; move it under the script's directory or into a K8SH_PATH directory", pos, module, local, where)
				return false
			}
			loadErr = place(local, inPod)
			return loadErr == nil
		})
		if loadErr != nil {
			return nil, nil, loadErr
		}
	}
	if total > maxConfigMap {
		return nil, nil, fmt.Errorf("the script and its modules hold %d bytes, more than a ConfigMap holds (%d)", total, maxConfigMap)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	keys := map[string]bool{}
	for i := range files {
		key := configMapKey(files[i].Path)
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return nil, nil, fmt.Errorf("%s: its name cannot be a ConfigMap key: %s", files[i].Path, strings.Join(errs, "; "))
		}
		for n := 2; keys[key]; n++ {
			key = fmt.Sprintf("%s-%d", configMapKey(files[i].Path), n)
		}
		keys[key] = true
		files[i].Key = key
	}
	if usesPath {
		env = append(env, corev1.EnvVar{Name: "K8SH_PATH", Value: scriptsDir + "/" + pathDir})
	}
	return files, env, nil
}

// configMapKey is the ConfigMap key of the file at path (under /scripts):
// the path, with "_" for its slashes and no leading dot.
func configMapKey(path string) string {
	return strings.TrimLeft(strings.ReplaceAll(path, "/", "_"), ".")
}

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// inCluster is a script set up to run in the cluster: what its workload
// (a Job, a CronJob; a Deployment for a script that runs for good) is made
// of.
type inCluster struct {
	Name, Namespace string
	Image           string
	Args            []string // the script's arguments
	Files           []scriptFile
	Env             []corev1.EnvVar
	Rules           kube.Rules
}

// labels are those of every object made for the script.
func (sc *inCluster) labels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       sc.Name,
		"app.kubernetes.io/managed-by": "k8sh",
	}
}

func (sc *inCluster) meta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: sc.labels()}
}

// clusterName is the name of what the script needs beyond its namespace:
// its ClusterRole and ClusterRoleBinding, and its Role and RoleBinding in
// another namespace.
func (sc *inCluster) clusterName() string { return "k8sh:" + sc.Namespace + ":" + sc.Name }

// objects are what runs the script as a workload of kind (Job, CronJob),
// in the order they are applied: the ServiceAccount, the RBAC objects, the
// ConfigMap, the workload.
func (sc *inCluster) objects(kind, schedule string) ([]runtime.Object, error) {
	objs := []runtime.Object{sc.serviceAccount()}
	objs = append(objs, sc.rbac()...)
	objs = append(objs, sc.configMap())
	w, err := sc.workload(kind, schedule)
	if err != nil {
		return nil, err
	}
	objs = append(objs, w)
	for _, o := range objs {
		if err := setKind(o); err != nil {
			return nil, err
		}
	}
	return objs, nil
}

// setKind gives a typed object its apiVersion and kind, as kubectl's
// printers (printers.TypeSetterPrinter) do.
func setKind(o runtime.Object) error {
	gvks, _, err := scheme.Scheme.ObjectKinds(o)
	if err != nil {
		return err
	}
	o.GetObjectKind().SetGroupVersionKind(gvks[0])
	return nil
}

func (sc *inCluster) serviceAccount() *corev1.ServiceAccount {
	return &corev1.ServiceAccount{ObjectMeta: sc.meta(sc.Name, sc.Namespace)}
}

// rbac are the Roles and ClusterRole of the script's rules, each bound to
// its ServiceAccount.
func (sc *inCluster) rbac() []runtime.Object {
	subject := []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: sc.Name, Namespace: sc.Namespace}}
	var objs []runtime.Object
	for _, ns := range sc.Rules.NamespaceNames() {
		name := sc.Name
		if ns != sc.Namespace {
			name = sc.clusterName()
		}
		objs = append(objs,
			&rbacv1.Role{ObjectMeta: sc.meta(name, ns), Rules: sc.Rules.Namespaces[ns]},
			&rbacv1.RoleBinding{ObjectMeta: sc.meta(name, ns), Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}})
	}
	if len(sc.Rules.Cluster) > 0 {
		name := sc.clusterName()
		objs = append(objs,
			&rbacv1.ClusterRole{ObjectMeta: sc.meta(name, ""), Rules: sc.Rules.Cluster},
			&rbacv1.ClusterRoleBinding{ObjectMeta: sc.meta(name, ""), Subjects: subject,
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}})
	}
	return objs
}

// configMap holds the script (NAME.star) and its modules.
func (sc *inCluster) configMap() *corev1.ConfigMap {
	cm := &corev1.ConfigMap{ObjectMeta: sc.meta(sc.Name, sc.Namespace), Data: map[string]string{}}
	for _, f := range sc.Files {
		cm.Data[f.Key] = string(f.Src)
	}
	return cm
}

// podTemplate is the pod that runs the script: k8sh /scripts/NAME.star
// args... as the script's ServiceAccount, non-root, with a read-only root
// filesystem, the ConfigMap at /scripts and an empty /tmp (HOME: the
// discovery cache). restart is its restart policy (Never for a Job).
func (sc *inCluster) podTemplate(restart corev1.RestartPolicy) corev1.PodTemplateSpec {
	yes, no := true, false
	uid := int64(65532) // distroless's nonroot
	items := make([]corev1.KeyToPath, len(sc.Files))
	for i, f := range sc.Files {
		items[i] = corev1.KeyToPath{Key: f.Key, Path: f.Path}
	}
	env := append([]corev1.EnvVar{{Name: "HOME", Value: "/tmp"}}, sc.Env...)
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: sc.labels()},
		Spec: corev1.PodSpec{
			ServiceAccountName: sc.Name,
			RestartPolicy:      restart,
			SecurityContext: &corev1.PodSecurityContext{
				RunAsNonRoot:   &yes,
				RunAsUser:      &uid,
				RunAsGroup:     &uid,
				SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
			},
			Containers: []corev1.Container{{
				Name:    "k8sh",
				Image:   sc.Image,
				Command: append([]string{"k8sh", scriptsDir + "/" + sc.Name + ".star"}, sc.Args...),
				Env:     env,
				VolumeMounts: []corev1.VolumeMount{
					{Name: "scripts", MountPath: scriptsDir, ReadOnly: true},
					{Name: "tmp", MountPath: "/tmp"},
				},
				TerminationMessagePolicy: corev1.TerminationMessageFallbackToLogsOnError,
				SecurityContext: &corev1.SecurityContext{
					AllowPrivilegeEscalation: &no,
					ReadOnlyRootFilesystem:   &yes,
					Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
				},
			}},
			Volumes: []corev1.Volume{
				{Name: "scripts", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: sc.Name}, Items: items}}},
				{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
			},
		},
	}
}

// jobSpec runs the script once. Its status is the Job's: a non-zero exit
// fails the Job at once (the script said so: running it again would do
// again what it did), while a pod lost to a disruption (a drain, a
// preemption) is run again, as is any other failure, up to backoffLimit
// times.
func (sc *inCluster) jobSpec() batchv1.JobSpec {
	backoff := int32(2)
	return batchv1.JobSpec{
		BackoffLimit: &backoff,
		PodFailurePolicy: &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
			{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
				ContainerName: ptr("k8sh"), Operator: batchv1.PodFailurePolicyOnExitCodesOpNotIn, Values: []int32{0}}},
			{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
				{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue}}},
		}},
		Template: sc.podTemplate(corev1.RestartPolicyNever),
	}
}

// workload is what runs the script: a Job (once) or a CronJob (on
// schedule; a run waits for the one before to end).
func (sc *inCluster) workload(kind, schedule string) (runtime.Object, error) {
	switch kind {
	case "Job":
		return &batchv1.Job{ObjectMeta: sc.meta(sc.Name, sc.Namespace), Spec: sc.jobSpec()}, nil
	case "CronJob":
		return &batchv1.CronJob{ObjectMeta: sc.meta(sc.Name, sc.Namespace), Spec: batchv1.CronJobSpec{
			Schedule:          schedule,
			ConcurrencyPolicy: batchv1.ForbidConcurrent,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: sc.labels()},
				Spec:       sc.jobSpec(),
			},
		}}, nil
	}
	return nil, fmt.Errorf("internal error: no workload of kind %s", kind)
}

func ptr[T any](v T) *T { return &v }

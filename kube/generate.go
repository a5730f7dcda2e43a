package kube

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilrand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/kubectl/pkg/util"
	"k8s.io/kubectl/pkg/util/hash"
)

// The manifest generators of k8s.new: each builds the object kubectl create
// KIND NAME ... --dry-run=client -o yaml prints, from the same Go types,
// with the same defaults, in the order kubectl fills them in
// (k8s.io/kubectl/pkg/cmd/create). That package is not imported: its
// init (it brings cmd/util, cmd/get, apiresources) would add ~16 ms to
// every k8sh start (GODEBUG=inittrace=1, see docs/performance.md).

// NewOptions are the fields of a generated object, named as kubectl
// create's flags; each kind reads the ones it has.
type NewOptions struct {
	// Namespace is set in the object's metadata (kubectl's -n).
	Namespace string

	Image    []string
	Replicas int32
	Port     int32 // -1 for none
	Command  []string

	// Type is a service's (ClusterIP, NodePort, LoadBalancer,
	// ExternalName) or a generic secret's.
	Type         string
	TCP          []string
	ClusterIP    string
	NodePort     int32
	ExternalName string

	FromLiteral []string // key=value
	FromFile    []string // [key=]path
	FromEnvFile []string
	AppendHash  bool

	Cert, Key                                                 string
	DockerServer, DockerUsername, DockerPassword, DockerEmail string

	Schedule string
	Restart  string
	// FromCronJob, when set, is the CronJob a job is made from.
	FromCronJob *batchv1.CronJob

	Verb, Resource, ResourceName, NonResourceURL []string
	AggregationRule                              map[string]string

	Role, ClusterRole           string
	User, Group, ServiceAccount []string

	Rule           []string
	DefaultBackend string
	IngressClass   string
	Annotation     []string

	Selector                     string
	MinAvailable, MaxUnavailable string

	Value            int32
	GlobalDefault    bool
	Description      string
	PreemptionPolicy string

	Hard   string
	Scopes string
}

// Files reads the files a generator is given (from_file=, cert=, ...).
type Files interface {
	Stat(name string) (fs.FileInfo, error)
	ReadFile(name string) ([]byte, error)
	ReadDir(name string) ([]fs.DirEntry, error)
}

// ResourceMapper completes a partial resource ("deploy", group "") as
// kubectl create role does; a meta.RESTMapper is one.
type ResourceMapper interface {
	ResourceFor(resource schema.GroupVersionResource) (schema.GroupVersionResource, error)
}

// ResourceFor is the resource the RESTMapper makes of a partial one.
func (c *Client) ResourceFor(r schema.GroupVersionResource) (schema.GroupVersionResource, error) {
	if err := c.init(); err != nil {
		return schema.GroupVersionResource{}, err
	}
	return c.mapper.ResourceFor(r)
}

// GeneratorKinds maps the kinds k8s.new knows, as kubectl create names
// them and their aliases, to the generator's name.
var GeneratorKinds = map[string]string{
	"deployment": "deployment", "deploy": "deployment", "deployments": "deployment",
	"service": "service clusterip", "svc": "service clusterip", "services": "service clusterip",
	"service clusterip": "service clusterip", "service nodeport": "service nodeport",
	"service loadbalancer": "service loadbalancer", "service externalname": "service externalname",
	"configmap": "configmap", "cm": "configmap", "configmaps": "configmap",
	"secret": "secret generic", "secrets": "secret generic", "secret generic": "secret generic",
	"secret tls": "secret tls", "secret docker-registry": "secret docker-registry",
	"job": "job", "jobs": "job",
	"cronjob": "cronjob", "cj": "cronjob", "cronjobs": "cronjob",
	"namespace": "namespace", "ns": "namespace", "namespaces": "namespace",
	"serviceaccount": "serviceaccount", "sa": "serviceaccount", "serviceaccounts": "serviceaccount",
	"role": "role", "roles": "role",
	"clusterrole": "clusterrole", "clusterroles": "clusterrole",
	"rolebinding": "rolebinding", "rolebindings": "rolebinding",
	"clusterrolebinding": "clusterrolebinding", "clusterrolebindings": "clusterrolebinding",
	"ingress": "ingress", "ing": "ingress", "ingresses": "ingress",
	"poddisruptionbudget": "poddisruptionbudget", "pdb": "poddisruptionbudget", "poddisruptionbudgets": "poddisruptionbudget",
	"priorityclass": "priorityclass", "pc": "priorityclass", "priorityclasses": "priorityclass",
	"quota": "quota", "resourcequota": "quota", "resourcequotas": "quota",
}

// Generate builds the object of generator kind (a value of
// GeneratorKinds) called name. warn receives kubectl's warnings ("'x' is
// not a standard resource verb").
func Generate(kind, name string, o NewOptions, files Files, mapper ResourceMapper, warn func(string)) (runtime.Object, error) {
	if name == "" {
		return nil, fmt.Errorf("name must be specified")
	}
	switch kind {
	case "deployment":
		return newDeployment(name, o)
	case "service clusterip", "service nodeport", "service loadbalancer", "service externalname":
		return newService(kind, name, o)
	case "configmap":
		return newConfigMap(name, o, files)
	case "secret generic", "secret tls", "secret docker-registry":
		return newSecret(kind, name, o, files)
	case "job":
		return newJob(name, o)
	case "cronjob":
		return newCronJob(name, o)
	case "namespace":
		return &corev1.Namespace{TypeMeta: typeMeta(corev1.SchemeGroupVersion.String(), "Namespace"), ObjectMeta: metav1.ObjectMeta{Name: name}}, nil
	case "serviceaccount":
		return &corev1.ServiceAccount{TypeMeta: typeMeta(corev1.SchemeGroupVersion.String(), "ServiceAccount"),
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace}}, nil
	case "role", "clusterrole":
		return newRole(kind, name, o, mapper, warn)
	case "rolebinding", "clusterrolebinding":
		return newRoleBinding(kind, name, o)
	case "ingress":
		return newIngress(name, o)
	case "poddisruptionbudget":
		return newPDB(name, o)
	case "priorityclass":
		pp := corev1.PreemptionPolicy(o.PreemptionPolicy)
		return &schedulingv1.PriorityClass{TypeMeta: typeMeta(schedulingv1.SchemeGroupVersion.String(), "PriorityClass"),
			ObjectMeta: metav1.ObjectMeta{Name: name}, Value: o.Value, GlobalDefault: o.GlobalDefault,
			Description: o.Description, PreemptionPolicy: &pp}, nil
	case "quota":
		return newQuota(name, o)
	}
	return nil, fmt.Errorf("unknown kind %q", kind)
}

// ObjectMap is obj as the map kubectl -o yaml prints: its JSON encoding,
// decoded with integers kept.
func ObjectMap(obj runtime.Object) (map[string]any, error) {
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(data); err != nil {
		return nil, err
	}
	return u.Object, nil
}

func typeMeta(apiVersion, kind string) metav1.TypeMeta {
	return metav1.TypeMeta{APIVersion: apiVersion, Kind: kind}
}

func newDeployment(name string, o NewOptions) (runtime.Object, error) {
	if len(o.Image) == 0 {
		return nil, fmt.Errorf("image is required")
	}
	if len(o.Image) > 1 && len(o.Command) > 0 {
		return nil, fmt.Errorf("cannot specify multiple images and command")
	}
	labels := map[string]string{"app": name}
	replicas := o.Replicas
	spec := corev1.PodSpec{Containers: []corev1.Container{}}
	for _, image := range o.Image {
		parts := strings.Split(image, "/")
		cname := parts[len(parts)-1]
		cname, _, _ = strings.Cut(cname, ":")
		cname, _, _ = strings.Cut(cname, "@")
		if strings.ContainsAny(cname, "_.") {
			// As kubectl: a DNS-1123 name, made unique.
			cname = strings.NewReplacer("_", "-", ".", "-").Replace(cname) + "-" + utilrand.String(5)
		}
		spec.Containers = append(spec.Containers, corev1.Container{Name: cname, Image: image, Command: o.Command})
	}
	d := &appsv1.Deployment{
		TypeMeta:   typeMeta(appsv1.SchemeGroupVersion.String(), "Deployment"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Namespace: o.Namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: spec},
		},
	}
	if o.Port >= 0 && len(spec.Containers) > 0 {
		d.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: o.Port}}
	}
	return d, nil
}

var serviceTypes = map[string]corev1.ServiceType{
	"service clusterip": corev1.ServiceTypeClusterIP, "service nodeport": corev1.ServiceTypeNodePort,
	"service loadbalancer": corev1.ServiceTypeLoadBalancer, "service externalname": corev1.ServiceTypeExternalName,
}

func newService(kind, name string, o NewOptions) (runtime.Object, error) {
	typ := serviceTypes[kind]
	if o.ClusterIP == corev1.ClusterIPNone && typ != corev1.ServiceTypeClusterIP {
		return nil, fmt.Errorf("ClusterIP=None can only be used with ClusterIP service type")
	}
	if o.ClusterIP != corev1.ClusterIPNone && len(o.TCP) == 0 && typ != corev1.ServiceTypeExternalName {
		return nil, fmt.Errorf("at least one tcp port specifier must be provided")
	}
	if typ == corev1.ServiceTypeExternalName {
		if errs := validation.IsDNS1123Subdomain(o.ExternalName); len(errs) != 0 {
			return nil, fmt.Errorf("invalid service external name %s", o.ExternalName)
		}
	}
	ports := []corev1.ServicePort{}
	for _, tcp := range o.TCP {
		port, target, err := parseServicePorts(tcp)
		if err != nil {
			return nil, err
		}
		ports = append(ports, corev1.ServicePort{
			Name: strings.ReplaceAll(tcp, ":", "-"), Port: port, TargetPort: target,
			Protocol: corev1.ProtocolTCP, NodePort: o.NodePort,
		})
	}
	labels := map[string]string{"app": name}
	s := &corev1.Service{
		TypeMeta:   typeMeta(corev1.SchemeGroupVersion.String(), "Service"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Namespace: o.Namespace},
		Spec: corev1.ServiceSpec{
			Type: typ, Selector: map[string]string{"app": name}, Ports: ports, ExternalName: o.ExternalName,
		},
	}
	if o.ClusterIP != "" {
		s.Spec.ClusterIP = o.ClusterIP
	}
	return s, nil
}

// parseServicePorts reads "port[:targetPort]", as kubectl create service
// --tcp does.
func parseServicePorts(spec string) (int32, intstr.IntOrString, error) {
	parts := strings.Split(spec, ":")
	port, err := strconv.Atoi(parts[0])
	if err != nil || port < 1 || port > 65535 {
		if err == nil {
			err = fmt.Errorf("port %q must be between 1 and 65535, inclusive", parts[0])
		} else {
			err = fmt.Errorf("invalid port %q", parts[0])
		}
		return 0, intstr.IntOrString{}, err
	}
	if len(parts) == 1 {
		return int32(port), intstr.FromInt32(int32(port)), nil
	}
	if n, err := strconv.Atoi(parts[1]); err == nil {
		if errs := validation.IsValidPortNum(n); len(errs) != 0 {
			return 0, intstr.IntOrString{}, errors.New(strings.Join(errs, ","))
		}
		return int32(port), intstr.FromInt32(int32(n)), nil
	}
	if errs := validation.IsValidPortName(parts[1]); len(errs) != 0 {
		return 0, intstr.IntOrString{}, errors.New(strings.Join(errs, ","))
	}
	return int32(port), intstr.FromString(parts[1]), nil
}

// fileSources calls add with each key and file of sources ("[key=]path";
// a directory gives each regular file in it), as kubectl's --from-file.
func fileSources(files Files, sources []string, add func(key string, data []byte) error) error {
	for _, src := range sources {
		key, p, err := util.ParseFileSource(src)
		if err != nil {
			return err
		}
		info, err := files.Stat(p)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return fmt.Errorf("error reading %s: %v", p, pe.Err)
			}
			return fmt.Errorf("error reading %s: %v", p, err)
		}
		if !info.IsDir() {
			data, err := files.ReadFile(p)
			if err != nil {
				return err
			}
			if err := add(key, data); err != nil {
				return err
			}
			continue
		}
		if strings.Contains(src, "=") {
			return fmt.Errorf("cannot give a key name for a directory path")
		}
		entries, err := files.ReadDir(p)
		if err != nil {
			return fmt.Errorf("error listing files in %s: %v", p, err)
		}
		for _, e := range entries {
			if !e.Type().IsRegular() {
				continue
			}
			data, err := files.ReadFile(path.Join(p, e.Name()))
			if err != nil {
				return err
			}
			if err := add(e.Name(), data); err != nil {
				return err
			}
		}
	}
	return nil
}

// envFileSources calls add with each key and value of the env files, as
// kubectl's --from-env-file reads them: KEY=VALUE lines, # comments, a
// KEY alone taking the value of the environment.
func envFileSources(files Files, sources []string, what string, add func(key, value string) error) error {
	for _, src := range sources {
		info, err := files.Stat(src)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return fmt.Errorf("error reading %s: %v", src, pe.Err)
			}
			return fmt.Errorf("error reading %s: %v", src, err)
		}
		if info.IsDir() {
			return fmt.Errorf("env %s file cannot be a directory", what)
		}
		data, err := files.ReadFile(src)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		for n := 0; sc.Scan(); n++ {
			line := sc.Bytes()
			if !utf8.Valid(line) {
				return fmt.Errorf("env file %s contains invalid utf8 bytes at line %d: %v", src, n+1, line)
			}
			if n == 0 {
				line = bytes.TrimPrefix(line, []byte{0xEF, 0xBB, 0xBF})
			}
			line = bytes.TrimLeftFunc(line, unicode.IsSpace)
			if len(line) == 0 || line[0] == '#' {
				continue
			}
			key, value, hasValue := strings.Cut(string(line), "=")
			if errs := validation.IsEnvVarName(key); len(errs) != 0 {
				return fmt.Errorf("%q is not a valid key name: %s", key, strings.Join(errs, ";"))
			}
			if !hasValue {
				value = os.Getenv(key)
			}
			if err := add(key, value); err != nil {
				return err
			}
		}
		if err := sc.Err(); err != nil {
			return err
		}
	}
	return nil
}

func checkSources(o NewOptions) error {
	if len(o.FromEnvFile) > 0 && (len(o.FromFile) > 0 || len(o.FromLiteral) > 0) {
		return fmt.Errorf("from_env_file cannot be combined with from_file or from_literal")
	}
	return nil
}

func newConfigMap(name string, o NewOptions, files Files) (runtime.Object, error) {
	if err := checkSources(o); err != nil {
		return nil, err
	}
	cm := &corev1.ConfigMap{
		TypeMeta:   typeMeta(corev1.SchemeGroupVersion.String(), "ConfigMap"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
		Data:       map[string]string{},
		BinaryData: map[string][]byte{},
	}
	check := func(key string) error {
		if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
			return fmt.Errorf("%q is not a valid key name for a ConfigMap: %s", key, strings.Join(errs, ","))
		}
		if _, ok := cm.Data[key]; ok {
			return fmt.Errorf("cannot add key %q, another key by that name already exists in Data for ConfigMap %q", key, name)
		}
		if _, ok := cm.BinaryData[key]; ok {
			return fmt.Errorf("cannot add key %q, another key by that name already exists in BinaryData for ConfigMap %q", key, name)
		}
		return nil
	}
	literal := func(key, value string) error {
		if err := check(key); err != nil {
			return err
		}
		cm.Data[key] = value
		return nil
	}
	err := fileSources(files, o.FromFile, func(key string, data []byte) error {
		if utf8.Valid(data) {
			return literal(key, string(data))
		}
		if err := check(key); err != nil {
			return err
		}
		cm.BinaryData[key] = data
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, src := range o.FromLiteral {
		k, v, err := util.ParseLiteralSource(src)
		if err != nil {
			return nil, err
		}
		if err := literal(k, v); err != nil {
			return nil, err
		}
	}
	if err := envFileSources(files, o.FromEnvFile, "config", literal); err != nil {
		return nil, err
	}
	if o.AppendHash {
		h, err := hash.ConfigMapHash(cm)
		if err != nil {
			return nil, err
		}
		cm.Name = name + "-" + h
	}
	return cm, nil
}

func newSecret(kind, name string, o NewOptions, files Files) (runtime.Object, error) {
	s := &corev1.Secret{
		TypeMeta:   typeMeta(corev1.SchemeGroupVersion.String(), "Secret"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
		Data:       map[string][]byte{},
	}
	add := func(key string, data []byte) error {
		if errs := validation.IsConfigMapKey(key); len(errs) != 0 {
			return fmt.Errorf("%q is not valid key name for a Secret %s", key, strings.Join(errs, ";"))
		}
		if _, ok := s.Data[key]; ok {
			return fmt.Errorf("cannot add key %s, another key by that name already exists", key)
		}
		s.Data[key] = data
		return nil
	}
	switch kind {
	case "secret generic":
		s.Type = corev1.SecretType(o.Type)
		if err := checkSources(o); err != nil {
			return nil, err
		}
		for _, src := range o.FromLiteral {
			k, v, err := util.ParseLiteralSource(src)
			if err != nil {
				return nil, err
			}
			if err := add(k, []byte(v)); err != nil {
				return nil, err
			}
		}
		if err := fileSources(files, o.FromFile, add); err != nil {
			return nil, err
		}
		err := envFileSources(files, o.FromEnvFile, "secret", func(k, v string) error { return add(k, []byte(v)) })
		if err != nil {
			return nil, err
		}
	case "secret tls":
		s.Type = corev1.SecretTypeTLS
		if o.Key == "" || o.Cert == "" {
			return nil, fmt.Errorf("key and cert must be specified")
		}
		cert, err := files.ReadFile(o.Cert)
		if err != nil {
			return nil, fmt.Errorf("Cannot read file %v, %v", o.Cert, err)
		}
		key, err := files.ReadFile(o.Key)
		if err != nil {
			return nil, fmt.Errorf("Cannot read file %v, %v", o.Key, err)
		}
		if _, err := tls.X509KeyPair(cert, key); err != nil {
			return nil, err
		}
		s.Data[corev1.TLSCertKey] = cert
		s.Data[corev1.TLSPrivateKeyKey] = key
	case "secret docker-registry":
		s.Type = corev1.SecretTypeDockerConfigJson
		server := o.DockerServer
		if server == "" {
			server = "https://index.docker.io/v1/"
		}
		if len(o.FromFile) == 0 && (o.DockerUsername == "" || o.DockerPassword == "") {
			return nil, fmt.Errorf("either from_file or the combination of docker_username, docker_password and docker_server is required")
		}
		if len(o.FromFile) > 0 {
			if err := fileSources(files, o.FromFile, add); err != nil {
				return nil, err
			}
			break
		}
		type entry struct {
			Username string `json:"username,omitempty"`
			Password string `json:"password,omitempty"`
			Email    string `json:"email,omitempty"`
			Auth     string `json:"auth,omitempty"`
		}
		type config struct {
			Auths       map[string]entry  `json:"auths"`
			HTTPHeaders map[string]string `json:"HttpHeaders,omitempty"`
		}
		data, err := json.Marshal(config{Auths: map[string]entry{server: {
			Username: o.DockerUsername, Password: o.DockerPassword, Email: o.DockerEmail,
			Auth: base64.StdEncoding.EncodeToString([]byte(o.DockerUsername + ":" + o.DockerPassword)),
		}}})
		if err != nil {
			return nil, err
		}
		s.Data[corev1.DockerConfigJsonKey] = data
	}
	if o.AppendHash {
		h, err := hash.SecretHash(s)
		if err != nil {
			return nil, err
		}
		s.Name = name + "-" + h
	}
	return s, nil
}

func newJob(name string, o NewOptions) (runtime.Object, error) {
	if (len(o.Image) == 0) == (o.FromCronJob == nil) {
		return nil, fmt.Errorf("either image or from_cronjob must be specified")
	}
	if len(o.Command) > 0 && o.FromCronJob != nil {
		return nil, fmt.Errorf("cannot specify from_cronjob and command")
	}
	if cj := o.FromCronJob; cj != nil {
		annotations := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
		for k, v := range cj.Spec.JobTemplate.Annotations {
			annotations[k] = v
		}
		controller := true
		return &batchv1.Job{
			TypeMeta: typeMeta(batchv1.SchemeGroupVersion.String(), "Job"),
			ObjectMeta: metav1.ObjectMeta{
				Name: name, Namespace: o.Namespace, Annotations: annotations, Labels: cj.Spec.JobTemplate.Labels,
				OwnerReferences: []metav1.OwnerReference{{
					APIVersion: batchv1.SchemeGroupVersion.String(), Kind: "CronJob",
					Name: cj.GetName(), UID: cj.GetUID(), Controller: &controller,
				}},
			},
			Spec: cj.Spec.JobTemplate.Spec,
		}, nil
	}
	if len(o.Image) > 1 {
		return nil, fmt.Errorf("a job takes one image")
	}
	return &batchv1.Job{
		TypeMeta:   typeMeta(batchv1.SchemeGroupVersion.String(), "Job"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers:    []corev1.Container{{Name: name, Image: o.Image[0], Command: o.Command}},
			RestartPolicy: corev1.RestartPolicyNever,
		}}},
	}, nil
}

func newCronJob(name string, o NewOptions) (runtime.Object, error) {
	if len(o.Image) != 1 {
		return nil, fmt.Errorf("image is required (one)")
	}
	if o.Schedule == "" {
		return nil, fmt.Errorf("schedule is required")
	}
	restart := o.Restart
	if restart == "" {
		restart = "OnFailure"
	}
	return &batchv1.CronJob{
		TypeMeta:   typeMeta(batchv1.SchemeGroupVersion.String(), "CronJob"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
		Spec: batchv1.CronJobSpec{
			Schedule: o.Schedule,
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
					Containers:    []corev1.Container{{Name: name, Image: o.Image[0], Command: o.Command}},
					RestartPolicy: corev1.RestartPolicy(restart),
				}}},
			},
		},
	}, nil
}

var (
	validResourceVerbs    = []string{"*", "get", "delete", "list", "create", "update", "patch", "watch", "proxy", "deletecollection", "use", "bind", "escalate", "impersonate"}
	validNonResourceVerbs = []string{"*", "get", "post", "put", "delete", "patch", "head", "options"}
	// specialVerbs are verbs that apply to these resources only.
	specialVerbs = map[string][]schema.GroupResource{
		"use":         {{Group: "policy", Resource: "podsecuritypolicies"}, {Group: "extensions", Resource: "podsecuritypolicies"}},
		"bind":        {{Group: "rbac.authorization.k8s.io", Resource: "roles"}, {Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}},
		"escalate":    {{Group: "rbac.authorization.k8s.io", Resource: "roles"}, {Group: "rbac.authorization.k8s.io", Resource: "clusterroles"}},
		"impersonate": {{Resource: "users"}, {Resource: "serviceaccounts"}, {Resource: "groups"}, {Group: "authentication.k8s.io", Resource: "userextras"}},
	}
)

type roleResource struct{ group, resource, sub string }

func uniq(ss []string) []string {
	out := []string{}
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func newRole(kind, name string, o NewOptions, mapper ResourceMapper, warn func(string)) (runtime.Object, error) {
	verbs := []string{}
	for _, v := range o.Verb {
		if v == "*" {
			verbs = []string{"*"}
			break
		}
		if !slices.Contains(verbs, v) {
			verbs = append(verbs, v)
		}
	}
	var resources []roleResource
	for _, r := range o.Resource {
		main, sub, _ := strings.Cut(r, "/")
		res, group, hasGroup := strings.Cut(main, ".")
		rr := roleResource{group: group, resource: res, sub: sub}
		if res == "*" && !hasGroup && !strings.Contains(r, "/") {
			resources = []roleResource{rr}
			break
		}
		resources = append(resources, rr)
	}
	names := uniq(o.ResourceName)
	urls := uniq(o.NonResourceURL)
	if kind == "clusterrole" && len(o.AggregationRule) > 0 {
		if len(urls) > 0 || len(verbs) > 0 || len(resources) > 0 || len(names) > 0 {
			return nil, fmt.Errorf("aggregation rule must be specified without nonResourceURLs, verbs, resources or resourceNames")
		}
		return &rbacv1.ClusterRole{
			TypeMeta:        typeMeta(rbacv1.SchemeGroupVersion.String(), "ClusterRole"),
			ObjectMeta:      metav1.ObjectMeta{Name: name},
			AggregationRule: &rbacv1.AggregationRule{ClusterRoleSelectors: []metav1.LabelSelector{{MatchLabels: o.AggregationRule}}},
		}, nil
	}
	if len(verbs) == 0 {
		return nil, fmt.Errorf("at least one verb must be specified")
	}
	if kind == "role" && len(resources) == 0 {
		return nil, fmt.Errorf("at least one resource must be specified")
	}
	if kind == "clusterrole" && len(resources) == 0 && len(urls) == 0 {
		return nil, fmt.Errorf("one of resource or nonResourceURL must be specified")
	}
	if kind == "role" && len(urls) > 0 {
		return nil, fmt.Errorf("a role has no non-resource URLs (a clusterrole does)")
	}
	resolve := func(r roleResource) (schema.GroupVersionResource, error) {
		gvr := schema.GroupVersionResource{Resource: r.resource, Group: r.group}
		if mapper == nil {
			return gvr, fmt.Errorf("no cluster to resolve the resource %q", r.resource)
		}
		found, err := mapper.ResourceFor(gvr)
		if err == nil {
			gvr = found
		}
		return gvr, err
	}
	if len(resources) > 0 {
		for _, v := range verbs {
			if !slices.Contains(validResourceVerbs, v) {
				warn(fmt.Sprintf("'%s' is not a standard resource verb", v))
			}
		}
		for _, r := range resources {
			if r.resource == "" {
				return nil, fmt.Errorf("resource must be specified if apiGroup/subresource specified")
			}
			if r.resource == "*" {
				break
			}
			gvr, err := resolve(r)
			for _, v := range verbs {
				allowed, special := specialVerbs[v]
				if !special {
					continue
				}
				if !slices.Contains(allowed, schema.GroupResource{Group: gvr.Group, Resource: gvr.Resource}) {
					return nil, fmt.Errorf("can not perform '%s' on '%s' in group '%s'", v, gvr.Resource, gvr.Group)
				}
				err = nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
	for _, u := range urls {
		for _, v := range verbs {
			if !slices.Contains(validNonResourceVerbs, v) {
				return nil, fmt.Errorf("invalid verb: '%s' for nonResourceURL", v)
			}
		}
		if u == "*" {
			continue
		}
		if u == "" || !strings.HasPrefix(u, "/") {
			return nil, fmt.Errorf("nonResourceURL should start with /")
		}
		if strings.ContainsRune(u[:len(u)-1], '*') {
			return nil, fmt.Errorf("nonResourceURL only supports wildcard matches when '*' is at the end")
		}
	}
	byGroup := map[string][]string{}
	for _, r := range resources {
		gvr, _ := resolve(r)
		res := gvr.Resource
		if r.sub != "" {
			res += "/" + r.sub
		}
		if !slices.Contains(byGroup[gvr.Group], res) {
			byGroup[gvr.Group] = append(byGroup[gvr.Group], res)
		}
	}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	slices.Sort(groups)
	rules := []rbacv1.PolicyRule{}
	for _, g := range groups {
		rules = append(rules, rbacv1.PolicyRule{Verbs: verbs, Resources: byGroup[g], APIGroups: []string{g}, ResourceNames: names})
	}
	if len(urls) > 0 {
		rules = append(rules, rbacv1.PolicyRule{Verbs: verbs, NonResourceURLs: urls})
	}
	if kind == "clusterrole" {
		return &rbacv1.ClusterRole{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "ClusterRole"),
			ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, nil
	}
	return &rbacv1.Role{TypeMeta: typeMeta(rbacv1.SchemeGroupVersion.String(), "Role"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace}, Rules: rules}, nil
}

func newRoleBinding(kind, name string, o NewOptions) (runtime.Object, error) {
	var subjects []rbacv1.Subject
	for _, u := range o.User {
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: u})
	}
	for _, g := range o.Group {
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.GroupKind, APIGroup: rbacv1.GroupName, Name: g})
	}
	for _, sa := range o.ServiceAccount {
		ns, n, ok := strings.Cut(sa, ":")
		if !ok || ns == "" || n == "" || strings.Contains(n, ":") {
			return nil, fmt.Errorf("serviceaccount must be <namespace>:<name>")
		}
		subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: n})
	}
	if kind == "clusterrolebinding" {
		if o.Role != "" {
			return nil, fmt.Errorf("a clusterrolebinding binds a clusterrole, not a role")
		}
		return &rbacv1.ClusterRoleBinding{
			TypeMeta:   typeMeta(rbacv1.SchemeGroupVersion.String(), "ClusterRoleBinding"),
			ObjectMeta: metav1.ObjectMeta{Name: name},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.ClusterRole},
			Subjects:   subjects,
		}, nil
	}
	if (o.ClusterRole == "") == (o.Role == "") {
		return nil, fmt.Errorf("exactly one of clusterrole or role must be specified")
	}
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: o.Role}
	if o.ClusterRole != "" {
		ref = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: o.ClusterRole}
	}
	return &rbacv1.RoleBinding{
		TypeMeta:   typeMeta(rbacv1.SchemeGroupVersion.String(), "RoleBinding"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
		RoleRef:    ref,
		Subjects:   subjects,
	}, nil
}

var ingressRule = regexp.MustCompile(`^(?P<host>[\w\*\-\.]*)(?P<path>/.*)=(?P<svcname>[\w\-]+):(?P<svcport>[\w\-]+)` + `(,(?P<istls>tls)=?(?P<secretname>[\w\-]+)?)?`)

func newIngress(name string, o NewOptions) (runtime.Object, error) {
	if o.DefaultBackend == "" && len(o.Rule) == 0 {
		return nil, fmt.Errorf("not enough information provided: every ingress has to either specify a default-backend (which catches all traffic) or a list of rules (which catch specific paths)")
	}
	for _, r := range o.Rule {
		if !ingressRule.MatchString(r) {
			return nil, fmt.Errorf("rule %s is invalid and should be in format host/path=svcname:svcport[,tls[=secret]]", r)
		}
	}
	annotations := map[string]string{}
	for _, a := range o.Annotation {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			return nil, fmt.Errorf("annotation %s is invalid and should be in format key=[value]", a)
		}
		annotations[k] = v
	}
	if o.DefaultBackend != "" && len(strings.Split(o.DefaultBackend, ":")) != 2 {
		return nil, fmt.Errorf("default-backend should be in format servicename:serviceport")
	}
	backend := func(svc string) networkingv1.IngressBackend {
		parts := strings.Split(svc, ":")
		var port networkingv1.ServiceBackendPort
		if p := intstr.Parse(parts[1]); p.Type == intstr.Int {
			port.Number = p.IntVal
		} else {
			port.Name = p.StrVal
		}
		return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: parts[0], Port: port}}
	}
	var spec networkingv1.IngressSpec
	if o.IngressClass != "" {
		class := o.IngressClass
		spec.IngressClassName = &class
	}
	if o.DefaultBackend != "" {
		b := backend(o.DefaultBackend)
		spec.DefaultBackend = &b
	}
	// TLS: one entry per secret, naming its hosts, as kubectl groups them.
	spec.TLS = []networkingv1.IngressTLS{}
	seen := map[string]bool{}
	for _, r := range o.Rule {
		parts := strings.Split(r, ",")
		if len(parts) != 2 {
			continue
		}
		host := strings.SplitN(r, "/", 2)[0]
		secret := ""
		if s := strings.Split(parts[1], "="); len(s) > 1 {
			secret = s[1]
		}
		if seen[host] {
			continue
		}
		seen[host] = true
		idx := slices.IndexFunc(spec.TLS, func(t networkingv1.IngressTLS) bool { return t.SecretName == secret })
		if idx > -1 {
			spec.TLS[idx].Hosts = append(spec.TLS[idx].Hosts, host)
			continue
		}
		var t networkingv1.IngressTLS
		if host != "" {
			t.Hosts = append(t.Hosts, host)
		}
		t.SecretName = secret
		if t.SecretName != "" || len(t.Hosts) > 0 {
			spec.TLS = append(spec.TLS, t)
		}
	}
	spec.Rules = []networkingv1.IngressRule{}
	for _, r := range o.Rule {
		hostPath := strings.SplitN(strings.Split(r, ",")[0], "/", 2)
		host := hostPath[0]
		pathSvc := strings.Split(hostPath[1], "=")
		p := "/" + pathSvc[0]
		pathType := networkingv1.PathTypeExact
		if strings.HasSuffix(p, "*") {
			pathType = networkingv1.PathTypePrefix
			p = p[:len(p)-1]
		}
		ip := networkingv1.HTTPIngressPath{Path: p, PathType: &pathType, Backend: backend(pathSvc[1])}
		idx := slices.IndexFunc(spec.Rules, func(x networkingv1.IngressRule) bool { return x.Host == host })
		if idx > -1 {
			spec.Rules[idx].HTTP.Paths = append(spec.Rules[idx].HTTP.Paths, ip)
			continue
		}
		spec.Rules = append(spec.Rules, networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{ip}},
		}})
	}
	return &networkingv1.Ingress{
		TypeMeta:   typeMeta(networkingv1.SchemeGroupVersion.String(), "Ingress"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace, Annotations: annotations},
		Spec:       spec,
	}, nil
}

var pdbValue = regexp.MustCompile(`^[0-9]+%?$`)

func newPDB(name string, o NewOptions) (runtime.Object, error) {
	if o.Selector == "" {
		return nil, fmt.Errorf("a selector must be specified")
	}
	if o.MaxUnavailable == "" && o.MinAvailable == "" {
		return nil, fmt.Errorf("one of min_available or max_unavailable must be specified")
	}
	if o.MaxUnavailable != "" && o.MinAvailable != "" {
		return nil, fmt.Errorf("min_available and max_unavailable cannot be both specified")
	}
	if o.MinAvailable != "" && !pdbValue.MatchString(o.MinAvailable) {
		return nil, fmt.Errorf("invalid format specified for min_available")
	}
	if o.MaxUnavailable != "" && !pdbValue.MatchString(o.MaxUnavailable) {
		return nil, fmt.Errorf("invalid format specified for max_unavailable")
	}
	sel, err := metav1.ParseToLabelSelector(o.Selector)
	if err != nil {
		return nil, err
	}
	p := &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta(policyv1.SchemeGroupVersion.String(), "PodDisruptionBudget"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
	}
	p.Spec.Selector = sel
	if o.MinAvailable != "" {
		v := intstr.Parse(o.MinAvailable)
		p.Spec.MinAvailable = &v
	} else {
		v := intstr.Parse(o.MaxUnavailable)
		p.Spec.MaxUnavailable = &v
	}
	return p, nil
}

func newQuota(name string, o NewOptions) (runtime.Object, error) {
	q := &corev1.ResourceQuota{
		TypeMeta:   typeMeta(corev1.SchemeGroupVersion.String(), "ResourceQuota"),
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.Namespace},
	}
	if o.Hard != "" {
		q.Spec.Hard = corev1.ResourceList{}
		for _, st := range strings.Split(o.Hard, ",") {
			parts := strings.Split(st, "=")
			if len(parts) != 2 {
				return nil, fmt.Errorf("Invalid argument syntax %v, expected <resource>=<value>", st)
			}
			qty, err := resource.ParseQuantity(parts[1])
			if err != nil {
				return nil, err
			}
			q.Spec.Hard[corev1.ResourceName(parts[0])] = qty
		}
	}
	if o.Scopes != "" {
		for _, s := range strings.Split(o.Scopes, ",") {
			if s == "" {
				return nil, fmt.Errorf("invalid resource quota scope \"\"")
			}
			q.Spec.Scopes = append(q.Spec.Scopes, corev1.ResourceQuotaScope(s))
		}
	}
	return q, nil
}

package kube

import (
	"fmt"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes/scheme"
)

// ExposeOptions are kubectl expose's flags.
type ExposeOptions struct {
	// Port is "80" or "80,443"; "" takes the object's ports.
	Port            string
	TargetPort      string
	Protocol        string
	Type            string
	Name            string
	Selector        map[string]string // nil: the object's
	Labels          map[string]string // nil: the object's
	ClusterIP       string
	ExternalIP      string
	LoadBalancerIP  string
	SessionAffinity string
}

// exposed is what kubectl expose reads of the object it exposes (as
// k8s.io/kubectl/pkg/polymorphichelpers does): its pod selector, its
// ports and each port's protocols.
func exposed(obj runtime.Object) (selector map[string]string, ports []string, protocols map[string][]string, err error) {
	fromMatch := func(what string, s *metav1.LabelSelector) (map[string]string, error) {
		if s == nil {
			return nil, fmt.Errorf("invalid %s: no selectors, therefore cannot be exposed", what)
		}
		if len(s.MatchExpressions) > 0 {
			return nil, fmt.Errorf("couldn't convert expressions - \"%+v\" to map-based selector format", s.MatchExpressions)
		}
		return s.MatchLabels, nil
	}
	var spec *corev1.PodSpec
	switch t := obj.(type) {
	case *corev1.ReplicationController:
		selector, spec = t.Spec.Selector, &t.Spec.Template.Spec
	case *corev1.Pod:
		if len(t.Labels) == 0 {
			return nil, nil, nil, fmt.Errorf("the pod has no labels and cannot be exposed")
		}
		selector, spec = t.Labels, &t.Spec
	case *corev1.Service:
		if t.Spec.Selector == nil {
			return nil, nil, nil, fmt.Errorf("the service has no pod selector set")
		}
		selector = t.Spec.Selector
		protocols = map[string][]string{}
		for _, p := range t.Spec.Ports {
			k := strconv.Itoa(int(p.Port))
			if _, ok := protocols[k]; !ok {
				ports = append(ports, k)
			}
			protocols[k] = append(protocols[k], protocolOr(p.Protocol))
		}
		return selector, ports, protocols, nil
	case *appsv1.Deployment:
		selector, err = fromMatch("deployment", t.Spec.Selector)
		spec = &t.Spec.Template.Spec
	case *appsv1.ReplicaSet:
		selector, err = fromMatch("replicaset", t.Spec.Selector)
		spec = &t.Spec.Template.Spec
	default:
		return nil, nil, nil, fmt.Errorf("cannot expose a %T", obj)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	protocols = map[string][]string{}
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			k := strconv.Itoa(int(p.ContainerPort))
			if _, ok := protocols[k]; !ok {
				ports = append(ports, k)
			}
			protocols[k] = append(protocols[k], protocolOr(p.Protocol))
		}
	}
	return selector, ports, protocols, nil
}

func protocolOr(p corev1.Protocol) string {
	if p == "" {
		return string(corev1.ProtocolTCP)
	}
	return string(p)
}

// ExposeService is the Service kubectl expose makes of obj (a pod,
// service, replication controller, deployment or replica set, as read
// from the server) with o, in obj's namespace.
func ExposeService(obj *unstructured.Unstructured, o ExposeOptions) (*unstructured.Unstructured, error) {
	typed, err := scheme.Scheme.New(obj.GroupVersionKind())
	if err != nil {
		return nil, fmt.Errorf("cannot expose a %s", obj.GetKind())
	}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, typed); err != nil {
		return nil, err
	}
	selector, objPorts, protocols, err := exposed(typed)
	if err != nil {
		if strings.HasPrefix(err.Error(), "cannot expose") {
			return nil, fmt.Errorf("cannot expose a %s", obj.GetKind())
		}
		return nil, err
	}
	if o.Selector != nil {
		selector = o.Selector
	}
	if len(selector) == 0 {
		return nil, fmt.Errorf("couldn't retrieve selectors via selector= or introspection")
	}
	name := o.Name
	if name == "" {
		name = obj.GetName()
		if len(name) > validation.DNS1035LabelMaxLength {
			name = name[:validation.DNS1035LabelMaxLength]
		}
	}
	labels := o.Labels
	if labels == nil {
		labels = obj.GetLabels()
	}
	portString := o.Port
	if portString == "" {
		switch {
		case len(objPorts) == 0 && o.ClusterIP != "None":
			return nil, fmt.Errorf("couldn't find port via port= or introspection")
		default:
			portString = strings.Join(objPorts, ",")
		}
	}
	ports := []corev1.ServicePort{}
	if portString != "" {
		parts := strings.Split(portString, ",")
		for i, ps := range parts {
			port, err := strconv.Atoi(ps)
			if err != nil {
				return nil, err
			}
			pname := ""
			if len(parts) > 1 {
				pname = fmt.Sprintf("port-%d", i+1)
			}
			protocol := o.Protocol
			if protocol == "" {
				protocol = "TCP"
				if ps, found := protocols[ps]; found {
					if len(ps) > 1 {
						for _, p := range ps {
							ports = append(ports, corev1.ServicePort{
								Name: fmt.Sprintf("port-%d-%s", i+1, strings.ToLower(p)), Port: int32(port), Protocol: corev1.Protocol(p),
							})
						}
						continue
					}
					protocol = ps[0]
				}
			}
			ports = append(ports, corev1.ServicePort{Name: pname, Port: int32(port), Protocol: corev1.Protocol(protocol)})
		}
	}
	svc := &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: obj.GetNamespace(), Labels: labels},
		Spec:       corev1.ServiceSpec{Selector: selector, Ports: ports},
	}
	for i := range svc.Spec.Ports {
		if o.TargetPort != "" {
			svc.Spec.Ports[i].TargetPort = intstr.Parse(o.TargetPort)
		} else {
			svc.Spec.Ports[i].TargetPort = intstr.FromInt32(svc.Spec.Ports[i].Port)
		}
	}
	if o.ExternalIP != "" {
		svc.Spec.ExternalIPs = []string{o.ExternalIP}
	}
	if o.Type != "" {
		svc.Spec.Type = corev1.ServiceType(o.Type)
	}
	if svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
		svc.Spec.LoadBalancerIP = o.LoadBalancerIP
	}
	switch corev1.ServiceAffinity(o.SessionAffinity) {
	case "":
	case corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
		svc.Spec.SessionAffinity = corev1.ServiceAffinity(o.SessionAffinity)
	default:
		return nil, fmt.Errorf("unknown session affinity: %s", o.SessionAffinity)
	}
	svc.Spec.ClusterIP = o.ClusterIP
	m, err := ObjectMap(svc)
	if err != nil {
		return nil, err
	}
	return &unstructured.Unstructured{Object: m}, nil
}

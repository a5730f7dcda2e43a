package kube

import (
	"context"
	"fmt"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationclient "k8s.io/client-go/kubernetes/typed/authorization/v1"
	rbacutil "k8s.io/kubectl/pkg/util/rbac"
)

// AccessCheck is what CanI asks, as kubectl auth can-i takes it.
type AccessCheck struct {
	Verb string
	// Resource is a kind as kubectl takes it ("pods", "deploy",
	// "deployments.apps", "*"), or a non-resource URL ("/logs").
	Resource, Name, Subresource string
	// Namespace is "" for the context's; AllNamespaces asks about all.
	Namespace     string
	AllNamespaces bool
}

// AccessAnswer is the server's answer to a SelfSubjectAccessReview.
type AccessAnswer struct {
	Allowed bool
	// Reason and EvaluationError are what kubectl prints after "no - ".
	Reason, EvaluationError string
	// Unknown is the resource the server does not serve, which is asked
	// about as given (kubectl warns "the server doesn't have a resource
	// type ..."): "" when it is served.
	Unknown string
}

// CanI asks the server whether this client's user may do what a says,
// through a SelfSubjectAccessReview, as kubectl auth can-i does: the
// resource resolved by the REST mapper (short names too), or sent as given
// when the server has no such resource; a Resource that starts with "/" is
// a non-resource URL. A review changes nothing.
func (c *Client) CanI(ctx context.Context, a AccessCheck) (AccessAnswer, error) {
	if err := c.init(); err != nil {
		return AccessAnswer{}, err
	}
	var ans AccessAnswer
	sar := &authorizationv1.SelfSubjectAccessReview{}
	if strings.HasPrefix(a.Resource, "/") {
		if a.Name != "" || a.Subresource != "" {
			return AccessAnswer{}, fmt.Errorf("a non-resource URL (%q) takes no name or subresource", a.Resource)
		}
		sar.Spec.NonResourceAttributes = &authorizationv1.NonResourceAttributes{Verb: a.Verb, Path: a.Resource}
	} else {
		ns := ""
		if !a.AllNamespaces {
			ns = a.Namespace
			if ns == "" {
				ns = c.namespace
			}
		}
		gvr, known := c.accessResource(a.Resource)
		if !known {
			ans.Unknown = a.Resource
		}
		sar.Spec.ResourceAttributes = &authorizationv1.ResourceAttributes{
			Namespace: ns, Verb: a.Verb, Group: gvr.Group, Resource: gvr.Resource,
			Subresource: a.Subresource, Name: a.Name,
		}
	}
	client, err := authorizationclient.NewForConfig(c.config)
	if err != nil {
		return AccessAnswer{}, err
	}
	resp, err := client.SelfSubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
	if err != nil {
		return AccessAnswer{}, apiError(err, "")
	}
	ans.Allowed, ans.Reason, ans.EvaluationError = resp.Status.Allowed, resp.Status.Reason, resp.Status.EvaluationError
	return ans, nil
}

// accessResource is kubectl auth can-i's resourceFor: "*" as it is, else
// the resource the mapper resolves arg to, else arg itself, not known
// (users and groups, which no API serves, count as known: kubectl does not
// warn about them).
func (c *Client) accessResource(arg string) (schema.GroupVersionResource, bool) {
	if arg == "*" {
		return schema.GroupVersionResource{Resource: arg}, true
	}
	full, gr := schema.ParseResourceArg(strings.ToLower(arg))
	var gvr schema.GroupVersionResource
	if full != nil {
		gvr, _ = c.mapper.ResourceFor(*full)
	}
	if gvr.Empty() {
		var err error
		if gvr, err = c.mapper.ResourceFor(gr.WithVersion("")); err != nil {
			return schema.GroupVersionResource{Resource: arg}, gr.String() == "users" || gr.String() == "groups"
		}
	}
	return gvr, true
}

// WhoAmI is the user the server takes this client for, through a
// SelfSubjectReview, as kubectl auth whoami asks.
func (c *Client) WhoAmI(ctx context.Context) (authenticationv1.UserInfo, error) {
	if err := c.init(); err != nil {
		return authenticationv1.UserInfo{}, err
	}
	client, err := authenticationclient.NewForConfig(c.config)
	if err != nil {
		return authenticationv1.UserInfo{}, err
	}
	resp, err := client.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		return authenticationv1.UserInfo{}, apiError(err, "")
	}
	return resp.Status.UserInfo, nil
}

// AccessRules is what this client's user may do in a namespace ("" for
// the context's), as kubectl auth can-i --list finds it: the rules of a
// SelfSubjectRulesReview broken down, compacted and sorted by kubectl's
// rbac helpers. incomplete is the server's evaluation error when it could
// not tell everything (kubectl warns "the list may be incomplete: ...").
func (c *Client) AccessRules(ctx context.Context, namespace string) (rules []rbacv1.PolicyRule, incomplete *string, err error) {
	if err := c.init(); err != nil {
		return nil, nil, err
	}
	if namespace == "" {
		namespace = c.namespace
	}
	client, err := authorizationclient.NewForConfig(c.config)
	if err != nil {
		return nil, nil, err
	}
	resp, err := client.SelfSubjectRulesReviews().Create(ctx, &authorizationv1.SelfSubjectRulesReview{
		Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, nil, apiError(err, "")
	}
	st := resp.Status
	var broken []rbacv1.PolicyRule
	for _, r := range st.ResourceRules {
		broken = append(broken, rbacutil.BreakdownRule(rbacv1.PolicyRule{
			Verbs: r.Verbs, APIGroups: r.APIGroups, Resources: r.Resources, ResourceNames: r.ResourceNames,
		})...)
	}
	for _, r := range st.NonResourceRules {
		broken = append(broken, rbacutil.BreakdownRule(rbacv1.PolicyRule{Verbs: r.Verbs, NonResourceURLs: r.NonResourceURLs})...)
	}
	rules, err = rbacutil.CompactRules(broken)
	if err != nil {
		return nil, nil, err
	}
	sort.Stable(rbacutil.SortableRuleSlice(rules))
	if st.Incomplete {
		incomplete = &st.EvaluationError
	}
	return rules, incomplete, nil
}

package kube

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
)

// StalePlanError says that an object changed between a plan and its
// apply: the plan stopped before its change.
type StalePlanError struct {
	Change  *PlanChange
	Index   int // of the change, from 0
	Applied int // changes applied before it
	Why     string
}

func (e *StalePlanError) Error() string {
	after := "nothing of the plan was applied"
	if e.Applied > 0 {
		after = fmt.Sprintf("the %d change(s) before it were applied, nothing after", e.Applied)
	}
	where := ""
	if e.Change.Namespace != "" {
		where = " in namespace " + e.Change.Namespace
	}
	return fmt.Sprintf("%s%s %s since the plan: stopped before change %d (%s); %s",
		e.Change.ObjectName(), where, e.Why, e.Index+1, e.Change.Title(), after)
}

// ApplyPlan makes p's changes for real, in order, each one the request the
// planned run sent. Before any is sent, every object the plan changes is
// read and compared with what the plan saw (its resourceVersion, or its
// absence); each request then carries that resourceVersion as a
// precondition (in the body of an update, a patch, a delete), so that an
// object changed since the plan, or in between, stops the apply before its
// change with a *StalePlanError. done is called after each change made.
func (c *Client) ApplyPlan(ctx context.Context, p *Plan, done func(ch *PlanChange)) (int, error) {
	if err := c.init(); err != nil {
		return 0, err
	}
	base, err := url.Parse(c.config.Host)
	if err != nil {
		return 0, err
	}
	if p.Server != "" && base.Host != "" && p.Server != base.Host {
		return 0, fmt.Errorf("the plan was made against server %s, and context %q talks to %s", p.Server, p.Context, base.Host)
	}
	hc, err := rest.HTTPClientFor(c.config)
	if err != nil {
		return 0, err
	}
	a := &planApplier{c: c, hc: hc, base: base, names: map[objKey]string{}, state: map[objKey]*appliedState{}}
	for i := range p.Changes {
		if h := p.Changes[i].Host; h != "" && base.Host != "" && h != base.Host {
			return 0, fmt.Errorf("change %d (%s) is of another cluster (server %s; context %q talks to %s): a plan is applied in one context", i+1, p.Changes[i].Title(), h, p.Context, base.Host)
		}
	}
	// Every object as the plan saw it, before anything is sent.
	first := map[objKey]bool{}
	for i := range p.Changes {
		ch := &p.Changes[i]
		k := ch.key()
		if first[k] || ch.GenerateName != "" {
			first[k] = true
			continue
		}
		first[k] = true
		if why, _, err := a.check(ctx, ch); err != nil {
			return 0, err
		} else if why != "" {
			return 0, &StalePlanError{Change: ch, Index: i, Why: why}
		}
	}
	for i := range p.Changes {
		ch := &p.Changes[i]
		why, err := a.apply(ctx, ch)
		if err != nil {
			return i, fmt.Errorf("change %d (%s): %w; the %d change(s) before it were applied, nothing after", i+1, ch.Title(), err, i)
		}
		if why != "" {
			return i, &StalePlanError{Change: ch, Index: i, Applied: i, Why: why}
		}
		if done != nil {
			made := *ch
			if real, ok := a.names[ch.key()]; ok {
				made.Name = real
			}
			done(&made)
		}
	}
	return len(p.Changes), nil
}

func (ch *PlanChange) key() objKey { return objKey{ch.Group, ch.Resource, ch.Namespace, ch.Name} }

type planApplier struct {
	c     *Client
	hc    *http.Client
	base  *url.URL
	names map[objKey]string // the names the server made for generateName
	// state is each object after the changes of the plan made so far.
	state map[objKey]*appliedState
}

// appliedState is an object after a change the apply made: gone, or there
// with its uid.
type appliedState struct {
	gone bool
	uid  string
}

// do sends one request and reads its answer.
func (a *planApplier) do(ctx context.Context, method, path, query, contentType string, body []byte) (int, []byte, error) {
	u := *a.base
	u.Path = strings.TrimSuffix(a.base.Path, "/") + path
	u.RawQuery = query
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// live reads the object of ch (under the name the server made, for one
// created with generateName): nil when it is not there.
func (a *planApplier) live(ctx context.Context, ch *PlanChange) (map[string]any, error) {
	info := apiTarget{group: ch.Group, version: ch.Version, resource: ch.Resource, namespace: ch.Namespace, name: ch.Name}
	if real, ok := a.names[ch.key()]; ok {
		info.name = real
	}
	code, b, err := a.do(ctx, http.MethodGet, info.objectPath(), "", "", nil)
	switch {
	case err != nil:
		return nil, err
	case code == http.StatusNotFound:
		return nil, nil
	case code != http.StatusOK:
		return nil, statusError(code, b)
	}
	return decodeJSONObject(b)
}

// check compares the object of ch, the first change of it, with what the
// plan saw: its absence (a create), or the object before the change, but
// for its status (what controllers report moves all the time) and what
// changes on every write. It says how the object moved ("" when it did
// not), and returns its resourceVersion now.
func (a *planApplier) check(ctx context.Context, ch *PlanChange) (string, string, error) {
	live, err := a.live(ctx, ch)
	if err != nil {
		return "", "", err
	}
	if ch.ResourceVersion == "" {
		if live != nil {
			return "was created" + changedBy(live, nil), "", nil
		}
		return "", "", nil
	}
	if live == nil {
		return "was deleted", "", nil
	}
	now := metaString(live, "resourceVersion")
	if metaString(live, "uid") != metaString(ch.Before, "uid") {
		return "was deleted and created again" + changedBy(live, nil), now, nil
	}
	if !sameContent(live, ch.Before) {
		return fmt.Sprintf("changed (resourceVersion %s in the plan, %s now)%s", ch.ResourceVersion, now, changedBy(live, ch.Before)), now, nil
	}
	return "", now, nil
}

// fence checks, before a later change of an object the apply already
// changed, that it is still the one the apply left (there, with the same
// uid, or gone), and returns its resourceVersion now.
func (a *planApplier) fence(ctx context.Context, ch *PlanChange, st *appliedState) (string, string, error) {
	live, err := a.live(ctx, ch)
	if err != nil {
		return "", "", err
	}
	switch {
	case st.gone && live != nil:
		return "was created" + changedBy(live, nil), "", nil
	case st.gone:
		return "", "", nil
	case live == nil:
		return "was deleted", "", nil
	case st.uid != "" && metaString(live, "uid") != st.uid:
		return "was deleted and created again" + changedBy(live, nil), "", nil
	}
	return "", metaString(live, "resourceVersion"), nil
}

// maxPlanTries bounds how often a change of a plan is tried again after a
// conflict with a write that did not make the plan stale.
const maxPlanTries = 5

// apply makes the change ch, with the object's resourceVersion, read just
// before and checked, as its precondition.
func (a *planApplier) apply(ctx context.Context, ch *PlanChange) (string, error) {
	k := ch.key()
	path, body0 := ch.Request.Path, []byte(ch.Request.Body)
	if real, ok := a.names[k]; ok {
		// An object whose name the server made when the plan is applied.
		info, _ := parseAPIPath(path)
		info.name = real
		path = info.objectPath()
		if info.sub != "" {
			path += "/" + info.sub
		}
		body0 = setBodyName(body0, real)
	}
	var code int
	var b []byte
	var rv string
	for try := 1; ; try++ {
		var why string
		var err error
		if st, ok := a.state[k]; ok {
			why, rv, err = a.fence(ctx, ch, st)
		} else if ch.GenerateName == "" {
			why, rv, err = a.check(ctx, ch)
		}
		if err != nil || why != "" {
			return why, err
		}
		body, err := withPrecondition(ch, body0, rv)
		if err != nil {
			return "", err
		}
		code, b, err = a.do(ctx, ch.Request.Method, path, ch.Request.Query, ch.Request.ContentType, body)
		if err != nil {
			return "", err
		}
		// A conflict is the object written between the read and the change:
		// read and check it again (a controller's status moves it often).
		if code != http.StatusConflict || rv == "" || try == maxPlanTries {
			break
		}
	}
	if code == http.StatusConflict && rv != "" {
		return fmt.Sprintf("kept changing while the plan was applied (a conflict %d times)", maxPlanTries), nil
	}
	if code >= 300 {
		err := statusError(code, b)
		if apierrors.IsAlreadyExists(err) && rv == "" {
			live, _ := a.live(ctx, ch)
			return "was created" + changedBy(live, nil), nil
		}
		return "", err
	}
	out, _ := decodeJSONObject(b)
	if ch.Op == "create" && ch.GenerateName != "" {
		a.names[k] = metaString(out, "name")
	}
	st := &appliedState{}
	switch {
	case ch.Op == "delete" && len(ch.After) == 0:
		st.gone = true
	case out != nil && out["kind"] != "Status" && ch.Subresource == "":
		st.uid = metaString(out, "uid")
	default:
		if prev, ok := a.state[k]; ok {
			st.uid = prev.uid
		}
	}
	a.state[k] = st
	return "", nil
}

// changedBy says who wrote obj since it was as seen (nil for never):
// ` by "kubectl-patch" (Update at T)`, or "" when no one is named.
func changedBy(obj, seen map[string]any) string {
	if who := lastManager(obj, seen); who != "" {
		return " by " + who
	}
	return ""
}

// setBodyName sets metadata.name in a JSON body.
func setBodyName(body []byte, name string) []byte {
	m, err := decodeJSONObject(body)
	if err != nil {
		return body
	}
	if md, ok := m["metadata"].(map[string]any); ok {
		md["name"] = name
		delete(md, "generateName")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return body
	}
	return out
}

// withPrecondition is body with want as the resourceVersion the object
// must have: in the object of an update or a merge, strategic or apply
// patch, as a test operation before a JSON patch, in the preconditions of a
// delete's or an eviction's options. A create has none (the server refuses
// one of an object that exists).
func withPrecondition(ch *PlanChange, body []byte, want string) ([]byte, error) {
	if want == "" {
		return body, nil
	}
	ct, _, _ := strings.Cut(ch.Request.ContentType, ";")
	switch ch.Request.Method {
	case http.MethodPut, http.MethodPatch:
		if ct == "application/json-patch+json" {
			var ops []any
			d := json.NewDecoder(bytes.NewReader(body))
			d.UseNumber()
			if err := d.Decode(&ops); err != nil {
				return nil, err
			}
			ops = append([]any{map[string]any{"op": "test", "path": "/metadata/resourceVersion", "value": want}}, ops...)
			return json.Marshal(ops)
		}
		m, err := decodeObject(body)
		if err != nil {
			return nil, err
		}
		md, _ := m["metadata"].(map[string]any)
		if md == nil {
			md = map[string]any{}
			m["metadata"] = md
		}
		md["resourceVersion"] = want
		return json.Marshal(m)
	case http.MethodDelete:
		m := map[string]any{}
		if len(bytes.TrimSpace(body)) > 0 {
			var err error
			if m, err = decodeObject(body); err != nil {
				return nil, err
			}
		} else {
			m["kind"], m["apiVersion"] = "DeleteOptions", "v1"
		}
		m["preconditions"] = map[string]any{"resourceVersion": want}
		return json.Marshal(m)
	case http.MethodPost:
		if ch.Subresource == "eviction" {
			m, err := decodeObject(body)
			if err != nil {
				return nil, err
			}
			do, _ := m["deleteOptions"].(map[string]any)
			if do == nil {
				do = map[string]any{}
				m["deleteOptions"] = do
			}
			do["preconditions"] = map[string]any{"resourceVersion": want}
			return json.Marshal(m)
		}
	}
	return body, nil
}

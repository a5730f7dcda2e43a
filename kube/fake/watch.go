package fake

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// watch streams the changes of req's resource after the resourceVersion
// asked (all objects as ADDED first when none or "0" is asked, or with
// sendInitialEvents=true, then a bookmark marking their end), as JSON
// watch events, one a line, until the client goes or timeoutSeconds pass.
// An object that stops matching the selectors is DELETED for the watch,
// one that starts to match ADDED, as the apiserver's watch cache says.
func (s *Server) watch(w http.ResponseWriter, r *http.Request, req *request) {
	q := r.URL.Query()
	if !req.res.allows("watch") {
		writeStatus(w, apierrors.NewMethodNotSupported(gr(req.res), "watch"))
		return
	}
	match, err := selector(req.res, q)
	if err != nil {
		writeStatus(w, err)
		return
	}
	in := func(o *unstructured.Unstructured) bool {
		return (req.namespace == "" || o.GetNamespace() == req.namespace) && match(o)
	}
	initial := q.Get("sendInitialEvents") == "true"
	rvArg := q.Get("resourceVersion")
	s.mu.Lock()
	from := s.rv
	store := s.storageOf(req.res.gvr)
	if !initial && rvArg != "" && rvArg != "0" {
		n, err := strconv.ParseInt(rvArg, 10, 64)
		if err != nil {
			s.mu.Unlock()
			writeStatus(w, apierrors.NewBadRequest("invalid resource version: "+rvArg))
			return
		}
		from = n
	}
	// What the watch holds to start with: the matching objects as of from.
	seen := map[string]bool{}
	var first []Event
	if initial || rvArg == "" || rvArg == "0" {
		for _, o := range s.bucket(req.res.gvr) {
			if in(o) {
				seen[key(o.GetNamespace(), o.GetName())] = true
				first = append(first, Event{Type: "ADDED", Object: atVersion(req.res, o).DeepCopy()})
			}
		}
		// In the order of a list, as the apiserver's watch cache sends them.
		sort.Slice(first, func(i, j int) bool {
			a, b := first[i].Object, first[j].Object
			return key(a.GetNamespace(), a.GetName()) < key(b.GetNamespace(), b.GetName())
		})
	} else {
		for _, e := range s.log {
			if e.rv > from {
				break
			}
			if e.store == store {
				seen[key(e.Object.GetNamespace(), e.Object.GetName())] = e.Type != "DELETED" && in(e.Object)
			}
		}
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	flush := func() {
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
	}
	enc := json.NewEncoder(w)
	send := func(typ string, obj any) bool {
		if err := enc.Encode(map[string]any{"type": typ, "object": obj}); err != nil {
			return false
		}
		flush()
		return true
	}
	for _, e := range first {
		if !send(e.Type, e.Object.Object) {
			return
		}
	}
	if initial && q.Get("allowWatchBookmarks") == "true" {
		bm := s.emptyOf(req.res)
		bm.SetResourceVersion(strconv.FormatInt(from, 10))
		bm.SetAnnotations(map[string]string{"k8s.io/initial-events-end": "true"})
		if !send("BOOKMARK", bm.Object) {
			return
		}
	}
	flush()
	var timeout <-chan time.Time
	if secs, err := strconv.Atoi(q.Get("timeoutSeconds")); err == nil && secs > 0 {
		timeout = time.After(time.Duration(secs) * time.Second)
	}
	pos := from
	for {
		s.mu.Lock()
		var batch []Event
		// The log is in resourceVersion order: start after pos.
		first := sort.Search(len(s.log), func(i int) bool { return s.log[i].rv > pos })
		for _, e := range s.log[first:] {
			if e.store != store {
				continue
			}
			k := key(e.Object.GetNamespace(), e.Object.GetName())
			now := e.Type != "DELETED" && in(e.Object)
			switch {
			case now && seen[k]:
				batch = append(batch, Event{Type: "MODIFIED", Object: e.Object})
			case now:
				batch = append(batch, Event{Type: "ADDED", Object: e.Object})
			case seen[k]:
				batch = append(batch, Event{Type: "DELETED", Object: e.Object})
			}
			seen[k] = now
		}
		pos = s.rv
		changed := s.notify
		s.mu.Unlock()
		for _, e := range batch {
			if !send(e.Type, atVersion(req.res, e.Object).Object) {
				return
			}
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return
		case <-timeout:
			return
		}
	}
}

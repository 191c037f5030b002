package ui

import (
	"cmp"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// States of an object, as the fleet page groups them. Each is shown as a word
// as well as a colour.
const (
	stateReady    = "Ready"
	stateStalled  = "Stalled"
	stateRetrying = "Retrying"
	stateUnknown  = "Unknown"
)

// state is an object's kstatus state and its Ready reason and message.
type state struct {
	Name, Reason, Message string
}

// Class is the CSS class of the state.
func (s state) Class() string { return "st-" + strings.ToLower(s.Name) }

// Label is the state as words: "Ready", "Stalled: NotFound".
func (s state) Label() string {
	if s.Reason == "" || s.Name == stateReady {
		return s.Name
	}
	return s.Name + ": " + s.Reason
}

func stateOf(obj *imagesv1alpha1.ImageConfig) state {
	conds := obj.Status.Conditions
	ready := apimeta.FindStatusCondition(conds, imagesv1alpha1.ReadyCondition)
	switch {
	case ready == nil:
		return state{Name: stateUnknown, Reason: "Pending", Message: "not reconciled yet"}
	case ready.Status == metav1.ConditionTrue:
		return state{Name: stateReady, Reason: ready.Reason, Message: ready.Message}
	case apimeta.IsStatusConditionTrue(conds, imagesv1alpha1.StalledCondition):
		return state{Name: stateStalled, Reason: ready.Reason, Message: ready.Message}
	case apimeta.IsStatusConditionTrue(conds, imagesv1alpha1.ReconcilingCondition):
		return state{Name: stateRetrying, Reason: ready.Reason, Message: ready.Message}
	default:
		return state{Name: stateUnknown, Reason: ready.Reason, Message: ready.Message}
	}
}

// requestedImage is what the object asks for: status.requestedImageRef, or the
// resolved imageRef, or the spec as written.
func requestedImage(obj *imagesv1alpha1.ImageConfig) string {
	st, sp := obj.Status, obj.Spec
	switch {
	case st.RequestedImageRef != "":
		return st.RequestedImageRef
	case st.ImageRef != "":
		return st.ImageRef
	}
	s := sp.Registry + "/" + sp.Repository
	switch {
	case sp.Digest != "":
		return s + "@" + sp.Digest
	case sp.Tag != "":
		return s + ":" + sp.Tag
	}
	return s + ":" + imagesv1alpha1.DefaultTag
}

func requestedPlatform(obj *imagesv1alpha1.ImageConfig) string {
	if p := obj.Status.RequestedPlatform; p != "" {
		return p
	}
	if p := obj.Status.Platform; p != "" {
		return p
	}
	p := obj.Spec.Platform
	if p.OS == "" {
		return ""
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// row is one line of the fleet table.
type row struct {
	Namespace, Name, Link string
	Image, Platform       string
	// Resolved is the resolved platform when it differs from the requested one.
	Resolved string
	State    state
	Digest   string
	Layers   int32
	Size     int64
	Checked  *metav1.Time
	Changed  *metav1.Time
	// Shared is how many objects of the fleet resolved the same digest and platform manifest.
	Shared int
	// StaleBase and Unsigned are the supply-chain badges.
	StaleBase, Unsigned bool
	obj                 *imagesv1alpha1.ImageConfig
}

// fleetQuery is the fleet page's filter and sort, from the query string.
type fleetQuery struct {
	Namespace, State, Reason, Text string
	// Supply is the supply-chain filter: "stale-base", "unsigned" or "".
	Supply      string
	Sort, Order string
}

// sortKeys are the fleet's sortable columns, in table order, with their headings.
var sortKeys = []struct{ Key, Heading string }{
	{"namespace", "Namespace"}, {"name", "Name"}, {"image", "Image"}, {"platform", "Platform"},
	{"ready", "Ready"}, {"digest", "Digest"}, {"layers", "Layers"}, {"size", "Size"},
	{"checked", "Last checked"}, {"changed", "Last changed"},
}

func parseFleetQuery(v url.Values) fleetQuery {
	q := fleetQuery{
		Namespace: v.Get("namespace"), State: v.Get("state"), Reason: v.Get("reason"),
		Text: strings.TrimSpace(v.Get("q")), Sort: v.Get("sort"), Order: v.Get("order"), Supply: v.Get("supply"),
	}
	if !slices.ContainsFunc(supplyFilters, func(f keyValue) bool { return f.Key == q.Supply }) {
		q.Supply = ""
	}
	if !slices.ContainsFunc(sortKeys, func(k struct{ Key, Heading string }) bool { return k.Key == q.Sort }) {
		q.Sort = ""
	}
	if q.Order != "desc" {
		q.Order = "asc"
	}
	return q
}

// values is q as a query string, with overrides.
func (q fleetQuery) values(override ...string) url.Values {
	v := url.Values{}
	set := func(k, s string) {
		if s != "" {
			v.Set(k, s)
		}
	}
	set("namespace", q.Namespace)
	set("state", q.State)
	set("reason", q.Reason)
	set("q", q.Text)
	set("supply", q.Supply)
	set("sort", q.Sort)
	if q.Sort != "" && q.Order == "desc" {
		v.Set("order", "desc")
	}
	for i := 0; i+1 < len(override); i += 2 {
		v.Del(override[i])
		set(override[i], override[i+1])
	}
	return v
}

func (r row) matches(q fleetQuery) bool {
	if q.Namespace != "" && r.Namespace != q.Namespace ||
		q.State != "" && r.State.Name != q.State ||
		q.Reason != "" && r.State.Reason != q.Reason ||
		!matchesSupply(r.obj, q.Supply) {
		return false
	}
	if q.Text == "" {
		return true
	}
	t := strings.ToLower(q.Text)
	st := r.obj.Status
	texts := []string{r.Namespace, r.Name, r.Image, r.Platform, r.Resolved, r.State.Reason, r.State.Message, st.Digest, st.ManifestDigest, st.ConfigDigest}
	if b := st.BaseImage; b != nil {
		texts = append(texts, b.Name, b.Digest, b.CurrentDigest)
	}
	for _, s := range texts {
		if strings.Contains(strings.ToLower(s), t) {
			return true
		}
	}
	return false
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func compareRows(a, b row, key string) int {
	switch key {
	case "namespace":
		return strings.Compare(a.Namespace, b.Namespace)
	case "name":
		return strings.Compare(a.Name, b.Name)
	case "image":
		return strings.Compare(a.Image, b.Image)
	case "platform":
		return strings.Compare(a.Platform, b.Platform)
	case "ready":
		return strings.Compare(a.State.Label(), b.State.Label())
	case "digest":
		return strings.Compare(a.Digest, b.Digest)
	case "layers":
		return cmp.Compare(a.Layers, b.Layers)
	case "size":
		return cmp.Compare(a.Size, b.Size)
	case "checked":
		return timeOf(a.Checked).Compare(timeOf(b.Checked))
	case "changed":
		return timeOf(a.Changed).Compare(timeOf(b.Changed))
	}
	return 0
}

// summaryPart is one state of the summary line: "2 stalled (1 NotFound, 1 Unauthorized)".
type summaryPart struct {
	State   state
	Count   int
	Link    string
	Reasons []reasonCount
}

type reasonCount struct {
	Reason string
	Count  int
	Link   string
}

// fleetPage is the fleet page's data.
type fleetPage struct {
	Query               fleetQuery
	Rows                []row
	Total               int
	Summary             []summaryPart
	Namespaces, Reasons []string
	States              []string
	Headings            []heading
	Filtered            bool
	// Supply are the supply-chain filters with their counts over the whole fleet.
	Supply []supplyCount
}

// supplyCount is one supply-chain filter, how many objects it holds, and its link.
type supplyCount struct {
	Key, Label, Link string
	Count            int
}

// heading is a sortable column heading: its link sorts by it, toggling the order.
type heading struct {
	Heading, Link, Arrow string
}

// fleetRows makes one row per item, and counts the objects that resolved to
// each (digest, manifest) pair.
func fleetRows(items []Item) ([]row, map[string]int) {
	all := make([]row, 0, len(items))
	shared := map[string]int{}
	for i := range items {
		obj := &items[i].Object
		st := obj.Status
		r := row{
			Namespace: obj.Namespace, Name: obj.Name, Link: objectLink(obj),
			Image: requestedImage(obj), Platform: requestedPlatform(obj),
			State: stateOf(obj), Digest: st.Digest, Layers: st.LayerCount, Size: st.TotalSize,
			Checked: st.LastCheckedTime, Changed: st.LastChangedTime, obj: obj,
			StaleBase: staleBase(obj), Unsigned: unsigned(obj),
		}
		if r.Name == "" {
			// Resolved on demand: the reference is its name.
			r.Name = r.Image
		}
		if st.Platform != "" && st.Platform != r.Platform {
			r.Resolved = st.Platform
		}
		if st.Digest != "" {
			shared[st.Digest+" "+st.ManifestDigest]++
		}
		all = append(all, r)
	}
	return all, shared
}

func buildFleet(items []Item, v url.Values) fleetPage {
	q := parseFleetQuery(v)
	all, shared := fleetRows(items)

	p := fleetPage{Query: q, Total: len(all), States: []string{stateReady, stateStalled, stateRetrying, stateUnknown}}
	namespaces, reasons := map[string]bool{}, map[string]bool{}
	counts := map[string]*summaryPart{}
	for _, f := range supplyFilters {
		p.Supply = append(p.Supply, supplyCount{Key: f.Key, Label: f.Value, Link: "/?" + (fleetQuery{Supply: f.Key}).values().Encode()})
	}
	for i := range all {
		r := &all[i]
		for j := range p.Supply {
			if matchesSupply(r.obj, p.Supply[j].Key) {
				p.Supply[j].Count++
			}
		}
		if r.Digest != "" {
			r.Shared = shared[r.Digest+" "+r.obj.Status.ManifestDigest]
		}
		namespaces[r.Namespace] = true
		if r.State.Reason != "" && r.State.Name != stateReady {
			reasons[r.State.Reason] = true
		}
		sp := counts[r.State.Name]
		if sp == nil {
			sp = &summaryPart{State: state{Name: r.State.Name}, Link: "/?" + (fleetQuery{State: r.State.Name}).values().Encode()}
			counts[r.State.Name] = sp
		}
		sp.Count++
		if r.State.Name != stateReady {
			j := slices.IndexFunc(sp.Reasons, func(rc reasonCount) bool { return rc.Reason == r.State.Reason })
			if j < 0 {
				sp.Reasons = append(sp.Reasons, reasonCount{Reason: r.State.Reason, Link: "/?" + (fleetQuery{State: r.State.Name, Reason: r.State.Reason}).values().Encode()})
				j = len(sp.Reasons) - 1
			}
			sp.Reasons[j].Count++
		}
		if r.matches(q) {
			p.Rows = append(p.Rows, *r)
		}
	}
	for _, s := range p.States {
		if sp := counts[s]; sp != nil {
			sort.Slice(sp.Reasons, func(i, j int) bool {
				a, b := sp.Reasons[i], sp.Reasons[j]
				return a.Count > b.Count || a.Count == b.Count && a.Reason < b.Reason
			})
			p.Summary = append(p.Summary, *sp)
		}
	}
	p.Namespaces = slices.Sorted(func(yield func(string) bool) {
		for k := range namespaces {
			if !yield(k) {
				return
			}
		}
	})
	p.Reasons = slices.Sorted(func(yield func(string) bool) {
		for k := range reasons {
			if !yield(k) {
				return
			}
		}
	})
	p.Filtered = q.Namespace != "" || q.State != "" || q.Reason != "" || q.Text != "" || q.Supply != ""

	slices.SortStableFunc(p.Rows, func(a, b row) int {
		if q.Sort != "" {
			c := compareRows(a, b, q.Sort)
			if q.Order == "desc" {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	for _, k := range sortKeys {
		h := heading{Heading: k.Heading}
		order := "asc"
		if q.Sort == k.Key {
			if q.Order == "asc" {
				h.Arrow, order = "▲", "desc"
			} else {
				h.Arrow = "▼"
			}
		}
		h.Link = "/?" + q.values("sort", k.Key, "order", order).Encode()
		p.Headings = append(p.Headings, h)
	}
	return p
}

// objectLink is the page of obj: by namespace and name, or, for an object
// resolved on demand, by reference and platform.
func objectLink(obj *imagesv1alpha1.ImageConfig) string {
	if obj.Namespace == "" {
		return "/image?" + url.Values{"ref": {requestedImage(obj)}, "platform": {requestedPlatform(obj)}}.Encode()
	}
	return fmt.Sprintf("/namespaces/%s/imageconfigs/%s", url.PathEscape(obj.Namespace), url.PathEscape(obj.Name))
}

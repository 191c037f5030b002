package ui

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/format"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static/style.css
var stylesheet []byte

// Handler serves the UI's pages.
type Handler struct {
	opts     Options
	resolver Resolver
	fleet    *template.Template
	image    *template.Template
	errPage  *template.Template
	files    *template.Template
	mux      *http.ServeMux
}

// New returns the UI's handler. Every response carries the security headers, and
// methods other than GET and HEAD get 405.
func New(opts Options) (http.Handler, error) {
	if opts.Source == nil {
		return nil, errors.New("ui: Options.Source is required")
	}
	h := &Handler{opts: opts}
	h.resolver, _ = opts.Source.(Resolver)
	if h.opts.Title == "" {
		h.opts.Title = "imageconfig"
	}
	funcs := template.FuncMap{
		"printable": printable,
		"size":      format.Size,
		"short":     format.ShortDigest,
		"age":       h.age,
		"rfc3339":   rfc3339,
		"join":      strings.Join,
		"quoted":    quoted,
	}
	parse := func(page string) (*template.Template, error) {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+page)
		if err != nil {
			return nil, fmt.Errorf("ui: parsing %s: %w", page, err)
		}
		return t, nil
	}
	var err error
	if h.fleet, err = parse("fleet.html"); err != nil {
		return nil, err
	}
	if h.image, err = parse("image.html"); err != nil {
		return nil, err
	}
	if h.errPage, err = parse("error.html"); err != nil {
		return nil, err
	}
	if h.files, err = parse("files.html"); err != nil {
		return nil, err
	}
	h.mux = http.NewServeMux()
	h.mux.HandleFunc("GET /{$}", h.serveFleet)
	h.mux.HandleFunc("GET /namespaces/{namespace}/imageconfigs/{name}", h.serveObject)
	h.mux.HandleFunc("GET /image", h.serveResolve)
	h.mux.HandleFunc("GET /files", h.serveFiles)
	h.mux.HandleFunc("GET /namespaces/{namespace}/imageconfigs/{name}/files", h.serveObjectFiles) // issue 18
	h.mux.HandleFunc("GET /static/style.css", serveStylesheet)
	h.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "There is no page "+r.URL.Path+".")
	})
	return secure(h.mux), nil
}

// page is what the layout template gets.
type page struct {
	Title, Heading string
	// Resolver is true when the form for a reference is shown.
	Resolver bool
	Ref      string
	Platform string
	Body     any
}

func (h *Handler) serveFleet(w http.ResponseWriter, r *http.Request) {
	items, err := h.opts.Source.List(r.Context())
	switch {
	case errors.Is(err, ErrForbidden):
		h.fail(w, r, http.StatusForbidden, "Listing ImageConfigs is not allowed: "+err.Error())
		return
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Listing ImageConfigs failed: "+err.Error())
		return
	}
	p := buildFleet(items, r.URL.Query())
	if wantsJSON(r) {
		list := struct {
			Items []*imagesv1alpha1.ImageConfig `json:"items"`
		}{Items: []*imagesv1alpha1.ImageConfig{}}
		for _, row := range p.Rows {
			list.Items = append(list.Items, forJSON(row.obj))
		}
		writeJSON(w, http.StatusOK, list)
		return
	}
	heading := "ImageConfigs"
	if h.resolver != nil {
		heading = "Resolved in this session"
	}
	h.render(w, http.StatusOK, h.fleet, page{Title: h.opts.Title, Heading: heading, Body: p})
}

func (h *Handler) serveObject(w http.ResponseWriter, r *http.Request) {
	if it, ok := h.getObject(w, r, r.PathValue("namespace"), r.PathValue("name")); ok {
		h.serveItem(w, r, it)
	}
}

// getObject gets one ImageConfig from the Source; ok is false when it answered an error.
func (h *Handler) getObject(w http.ResponseWriter, r *http.Request, ns, name string) (*Item, bool) {
	it, err := h.opts.Source.Get(r.Context(), ns, name)
	switch {
	case errors.Is(err, ErrNotFound):
		h.fail(w, r, http.StatusNotFound, fmt.Sprintf("There is no ImageConfig %s in namespace %s.", name, ns))
		return nil, false
	case errors.Is(err, ErrForbidden):
		h.fail(w, r, http.StatusForbidden, "Reading the ImageConfig is not allowed: "+err.Error())
		return nil, false
	case err != nil:
		h.fail(w, r, http.StatusServiceUnavailable, "Reading the ImageConfig failed: "+err.Error())
		return nil, false
	}
	return it, true
}

func (h *Handler) serveResolve(w http.ResponseWriter, r *http.Request) {
	if h.resolver == nil {
		h.fail(w, r, http.StatusNotFound, "This UI shows the cluster's ImageConfigs; it does not resolve references on demand. Use imageconfig serve for that.")
		return
	}
	ref, platform := strings.TrimSpace(r.URL.Query().Get("ref")), strings.TrimSpace(r.URL.Query().Get("platform"))
	if ref == "" {
		h.fail(w, r, http.StatusBadRequest, "Give a reference, such as ?ref=nginx:1.27&platform=linux/arm64.")
		return
	}
	it, err := h.resolver.Resolve(r.Context(), ref, platform)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err.Error())
		return
	}
	h.serveItem(w, r, it)
}

func (h *Handler) serveItem(w http.ResponseWriter, r *http.Request, it *Item) {
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, forJSON(&it.Object))
		return
	}
	p := h.buildImage(it, r.URL.Query())
	h.render(w, http.StatusOK, h.image, page{Title: p.Title + " · " + h.opts.Title, Heading: p.Title, Body: p,
		Ref: r.URL.Query().Get("ref"), Platform: r.URL.Query().Get("platform")})
}

// fail answers an error page, or JSON {"error": …} for JSON clients.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, code int, msg string) {
	if wantsJSON(r) {
		writeJSON(w, code, map[string]string{"error": msg})
		return
	}
	h.render(w, code, h.errPage, page{Title: http.StatusText(code) + " · " + h.opts.Title, Heading: http.StatusText(code), Body: msg})
}

func (h *Handler) render(w http.ResponseWriter, code int, t *template.Template, p page) {
	p.Resolver = h.resolver != nil
	var buf bytes.Buffer
	if err := t.Execute(&buf, p); err != nil {
		http.Error(w, "rendering the page failed: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func serveStylesheet(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(stylesheet)
}

// wantsJSON reports whether the client asked for JSON with its Accept header.
func wantsJSON(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(mt), "application/json") {
			return true
		}
	}
	return false
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Vary", "Accept")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// forJSON is obj without its managed fields, with its kind set.
func forJSON(obj *imagesv1alpha1.ImageConfig) *imagesv1alpha1.ImageConfig {
	out := obj.DeepCopy()
	out.ManagedFields = nil
	out.APIVersion = imagesv1alpha1.GroupVersion.String()
	out.Kind = "ImageConfig"
	return out
}

// printable shows control characters and bidirectional overrides, which image
// content may carry to mislead a reader, as Go escapes (\x1b, \u202e). Newlines
// and tabs are kept.
func printable(s string) string {
	if strings.IndexFunc(s, needsEscape) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !needsEscape(r):
			b.WriteRune(r)
		case r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func needsEscape(r rune) bool {
	if r == '\n' || r == '\t' {
		return false
	}
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == unicode.ReplacementChar || r == '\u2028' || r == '\u2029'
}

// quoted renders a command line list as JSON strings, as a Dockerfile's exec form does.
func quoted(args []string) string {
	b, _ := json.Marshal(args)
	return printable(string(b))
}

// timeOfAny accepts the time types of the API: metav1.Time, *metav1.Time and *time.Time.
func timeOfAny(v any) (time.Time, bool) {
	switch t := v.(type) {
	case metav1.Time:
		return t.Time, !t.IsZero()
	case *metav1.Time:
		if t != nil {
			return t.Time, !t.IsZero()
		}
	case *time.Time:
		if t != nil {
			return *t, !t.IsZero()
		}
	case time.Time:
		return t, !t.IsZero()
	}
	return time.Time{}, false
}

func rfc3339(v any) string {
	t, ok := timeOfAny(v)
	if !ok {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// age is how long ago t was, as kubectl prints it: "45s", "12m", "3h", "5d".
func (h *Handler) age(v any) string {
	t, ok := timeOfAny(v)
	if !ok {
		return ""
	}
	now := time.Now
	if h.opts.Now != nil {
		now = h.opts.Now
	}
	d := now().Sub(t)
	switch {
	case d < 0:
		return "now"
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s ago"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h ago"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d ago"
}

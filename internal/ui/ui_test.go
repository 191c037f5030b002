package ui_test

import (
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/ui"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func newHandler(t *testing.T, items []ui.Item) http.Handler {
	t.Helper()
	h, err := ui.New(ui.Options{Source: fakeSource{items}, Now: func() time.Time { return now }, Instruction: manifests.DockerfileLine})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/ui -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file; run go test ./internal/ui -update and review the diff.\ngot:\n%s", path, got)
	}
}

func TestGoldenPages(t *testing.T) {
	h := newHandler(t, fleet())
	tests := []struct{ name, target string }{
		{"fleet.html", "/"},
		{"fleet-stalled.html", "/?state=Stalled"},
		{"image.html", "/namespaces/web/imageconfigs/nginx"},
		{"image-stalled.html", "/namespaces/web/imageconfigs/missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(t, h, "GET", tt.target)
			if w.Code != http.StatusOK {
				t.Fatalf("GET %s = %d: %s", tt.target, w.Code, w.Body)
			}
			if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			golden(t, tt.name, w.Body.Bytes())
		})
	}
}

// rows returns the text of the first cell of each row of the first table
// whose class is class, or of the cell at column col.
func cells(t *testing.T, body string, class string, col int) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var inTable, inBody bool
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "table":
				if hasClass(n, class) {
					inTable = true
					defer func() { inTable = false }()
				}
			case "tbody":
				inBody = inTable
				defer func() { inBody = false }()
			case "tr":
				if inBody {
					i := 0
					for c := n.FirstChild; c != nil; c = c.NextSibling {
						if c.Type == html.ElementNode && (c.Data == "td" || c.Data == "th") {
							if i == col {
								out = append(out, strings.TrimSpace(text(c)))
							}
							i++
						}
					}
					return
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func hasClass(n *html.Node, class string) bool {
	for _, a := range n.Attr {
		if a.Key == "class" && strings.Contains(" "+a.Val+" ", " "+class+" ") {
			return true
		}
	}
	return false
}

func text(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		b.WriteString(text(c))
	}
	return b.String()
}

func TestFleetFilterAndSort(t *testing.T) {
	h := newHandler(t, fleet())
	tests := []struct {
		target string
		col    int
		want   []string
	}{
		{"/", 1, []string{"app", "nginx-copy", "missing", "nginx"}},
		{"/?sort=name", 1, []string{"app", "missing", "nginx", "nginx-copy"}},
		{"/?sort=name&order=desc", 1, []string{"nginx-copy", "nginx", "missing", "app"}},
		{"/?sort=size&order=desc", 1, []string{"nginx-copy", "nginx", "app", "missing"}},
		{"/?state=Stalled", 1, []string{"missing"}},
		{"/?reason=Unavailable", 1, []string{"app"}},
		{"/?namespace=web", 1, []string{"missing", "nginx"}},
		{"/?q=GHCR.IO", 1, []string{"app"}},
		{"/?q=" + digest('a')[:20], 1, []string{"nginx-copy", "nginx"}},
		{"/?state=Ready&sort=bogus", 1, []string{"nginx-copy", "nginx"}},
		{"/?state=Stalled", 2, []string{"127.0.0.1:5001/demo/hello:nope"}},
		{"/?state=Stalled", 3, []string{"linux/amd64"}},
		{"/?state=Stalled", 4, []string{"Stalled: NotFound"}},
		{"/?supply=stale-base", 1, []string{"nginx"}},
		{"/?supply=unsigned", 1, []string{"nginx-copy"}},
		{"/?supply=unsigned&namespace=web", 1, nil},
		{"/?supply=bogus", 1, []string{"app", "nginx-copy", "missing", "nginx"}},
		{"/?q=" + digest('f'), 1, []string{"nginx-copy", "nginx"}},
		{"/?sort=name", 4, []string{"Retrying: Unavailable", "Stalled: NotFound", "Ready stale base", "Ready unsigned"}},
	}
	for _, tt := range tests {
		t.Run(tt.target, func(t *testing.T) {
			w := get(t, h, "GET", tt.target)
			got := cells(t, w.Body.String(), "fleet", tt.col)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("GET %s column %d = %q, want %q", tt.target, tt.col, got, tt.want)
			}
		})
	}

	body := get(t, h, "GET", "/").Body.String()
	for _, want := range []string{
		`4 ImageConfigs:`, `Ready</span> 2</a>`, `Stalled: NotFound`, `>1 NotFound</a>`, `>1 Unavailable</a>`,
		`shared ×2`, `href="/?state=Stalled"`, `<a href="/?supply=stale-base">1 stale base</a>`, `<a href="/?supply=unsigned">1 unsigned</a>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the fleet page lacks %q", want)
		}
	}
}

func TestImageLayerSort(t *testing.T) {
	h := newHandler(t, fleet())
	build := cells(t, get(t, h, "GET", "/namespaces/web/imageconfigs/nginx").Body.String(), "layers", 4)
	want := []string{"# debian.sh --arch 'arm64' out/ 'bookworm' '@1734912000'", "RUN /bin/sh -c set -x && apt-get update && apt-get install -y nginx", "COPY docker-entrypoint.sh /"}
	if strings.Join(build, "|") != strings.Join(want, "|") {
		t.Errorf("build order instructions = %q, want %q", build, want)
	}
	sizes := cells(t, get(t, h, "GET", "/namespaces/web/imageconfigs/nginx?sort=size").Body.String(), "layers", 2)
	if strings.Join(sizes, "|") != "40.0 MiB|28.0 MiB|628 B" {
		t.Errorf("?sort=size sizes = %q, want largest first", sizes)
	}
}

func TestEmptyStepsGreyed(t *testing.T) {
	items := fleet()
	items[0].Steps = []ui.Step{
		{Layer: 0, Size: 100, Digest: digest('1'), CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
		{Layer: -1, EmptyLayer: true, CreatedBy: `/bin/sh -c #(nop)  CMD ["bash"]`},
		{Layer: 1, Size: 300, Digest: digest('2'), CreatedBy: "/bin/sh -c apt-get update"},
	}
	body := get(t, newHandler(t, items), "GET", "/namespaces/web/imageconfigs/nginx").Body.String()
	if got := strings.Count(body, `<tr class="empty-step">`); got != 1 {
		t.Errorf("%d greyed steps, want 1", got)
	}
	if got := cells(t, body, "layers", 1); strings.Join(got, "|") != "1||2" {
		t.Errorf("layer numbers = %q, want 1, none, 2", got)
	}
	if got := cells(t, body, "layers", 4); strings.Join(got, "|") != `ADD file:abc in /|CMD ["bash"]|RUN apt-get update` {
		t.Errorf("instructions = %q", got)
	}
}

func TestContentNegotiation(t *testing.T) {
	h := newHandler(t, fleet())
	w := get(t, h, "GET", "/?state=Stalled", "Accept", "application/json")
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q", ct)
	}
	var list struct {
		Items []imagesv1alpha1.ImageConfig `json:"items"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 || list.Items[0].Name != "missing" || list.Items[0].Status.RequestedImageRef != "127.0.0.1:5001/demo/hello:nope" {
		t.Errorf("JSON list = %+v, want only the stalled object", list.Items)
	}
	for _, key := range []string{`"requestedImageRef"`, `"conditions"`, `"kind": "ImageConfig"`} {
		if !strings.Contains(w.Body.String(), key) {
			t.Errorf("the JSON lacks %s", key)
		}
	}

	w = get(t, h, "GET", "/namespaces/web/imageconfigs/nginx", "Accept", "text/html;q=0.9, application/json")
	var obj map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &obj); err != nil {
		t.Fatalf("%v: %s", err, w.Body)
	}
	st, _ := obj["status"].(map[string]any)
	if st["manifestDigest"] != digest('b') || st["layerCount"] != float64(3) {
		t.Errorf("JSON status = %v", st)
	}
	if w.Header().Get("Vary") != "Accept" {
		t.Errorf("Vary = %q, want Accept", w.Header().Get("Vary"))
	}

	w = get(t, h, "GET", "/namespaces/web/imageconfigs/nope", "Accept", "application/json")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"error"`) {
		t.Errorf("unknown object as JSON = %d %s", w.Code, w.Body)
	}
}

func TestSecurityHeadersAndMethods(t *testing.T) {
	h := newHandler(t, fleet())
	tests := []struct {
		method, target string
		code           int
	}{
		{"GET", "/", 200},
		{"HEAD", "/", 200},
		{"GET", "/namespaces/web/imageconfigs/nginx", 200},
		{"GET", "/static/style.css", 200},
		{"GET", "/namespaces/web/imageconfigs/nope", 404},
		{"GET", "/namespaces/nope/imageconfigs/nginx", 404},
		{"GET", "/nothing/here", 404},
		{"GET", "/image?ref=nginx", 404},
		{"POST", "/", 405},
		{"PUT", "/namespaces/web/imageconfigs/nginx", 405},
		{"DELETE", "/namespaces/web/imageconfigs/nginx", 405},
		{"PATCH", "/static/style.css", 405},
		{"OPTIONS", "/", 405},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.target, func(t *testing.T) {
			w := get(t, h, tt.method, tt.target)
			if w.Code != tt.code {
				t.Errorf("%s %s = %d, want %d", tt.method, tt.target, w.Code, tt.code)
			}
			hd := w.Header()
			if got := hd.Get("Content-Security-Policy"); got != "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'" {
				t.Errorf("Content-Security-Policy = %q", got)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "no-referrer" {
				t.Errorf("X-Content-Type-Options = %q, Referrer-Policy = %q", hd.Get("X-Content-Type-Options"), hd.Get("Referrer-Policy"))
			}
			if tt.code == 405 && hd.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", hd.Get("Allow"))
			}
		})
	}
}

func TestStylesheetSize(t *testing.T) {
	w := get(t, newHandler(t, nil), "GET", "/static/style.css")
	if n := w.Body.Len(); n == 0 || n >= 10<<10 {
		t.Errorf("the stylesheet is %d bytes, want under 10 KiB", n)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/css; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestLoopbackHosts(t *testing.T) {
	h := ui.LoopbackHosts(newHandler(t, fleet()))
	tests := []struct {
		host string
		code int
	}{
		{"127.0.0.1:8082", 200}, {"localhost:8082", 200}, {"LOCALHOST", 200}, {"[::1]:8082", 200}, {"127.1.2.3", 200},
		{"evil.example:8082", 421}, {"10.0.0.1:8082", 421}, {"localhost.evil.example", 421}, {"", 421},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.Host = tt.host
			w := httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != tt.code {
				t.Errorf("Host %q = %d, want %d", tt.host, w.Code, tt.code)
			}
			for k, v := range map[string]string{"Content-Security-Policy": ui.ContentSecurityPolicy, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
				if got := w.Header().Get(k); got != v {
					t.Errorf("Host %q: %s = %q, want %q", tt.host, k, got, v)
				}
			}
		})
	}
	for addr, want := range map[string]bool{"127.0.0.1:8082": true, "localhost:0": true, "[::1]:1": true, ":8082": false, "0.0.0.0:8082": false, "10.1.2.3:80": false, "0": false} {
		if got := ui.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestHostileContentIsInert renders an object whose registry data carries
// markup, javascript: URLs and control characters, and checks that none of it
// became markup, a link or an invisible character.
func TestHostileContentIsInert(t *testing.T) {
	items := []ui.Item{{Object: hostileObject("evil", "hostile")}}
	h := newHandler(t, items)
	for _, target := range []string{"/", "/namespaces/evil/imageconfigs/hostile", "/namespaces/evil/imageconfigs/hostile?sort=size", "/?q=" + scriptPayload} {
		t.Run(target, func(t *testing.T) {
			w := get(t, h, "GET", target)
			if w.Code != 200 {
				t.Fatalf("GET = %d", w.Code)
			}
			body := w.Body.String()
			doc, err := html.Parse(strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			var walk func(n *html.Node)
			walk = func(n *html.Node) {
				if n.Type == html.ElementNode {
					switch n.Data {
					case "script", "img", "iframe", "object", "embed", "style":
						t.Errorf("hostile content made a <%s> element", n.Data)
					}
					for _, a := range n.Attr {
						if strings.HasPrefix(a.Key, "on") {
							t.Errorf("hostile content made an event handler attribute %s=%q on <%s>", a.Key, a.Val, n.Data)
						}
						if a.Key == "href" || a.Key == "src" || a.Key == "action" {
							if !strings.HasPrefix(a.Val, "/") {
								t.Errorf("<%s %s=%q> is not a local path", n.Data, a.Key, a.Val)
							}
						}
						if a.Key == "style" {
							t.Errorf("an inline style attribute on <%s>: the CSP blocks it", n.Data)
						}
					}
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c)
				}
			}
			walk(doc)
			if regexp.MustCompile(`[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{202a}-\x{202e}\x{2066}-\x{2069}]`).MatchString(body) {
				t.Error("a control or bidirectional character reached the page unescaped")
			}
			if strings.Contains(target, "hostile") {
				for _, want := range []string{`&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;`, `\x1b[31mred\x1b[0m\u202egnp.exe\x00\x0d`, `&#34;&gt;&lt;img src=x onerror=&#34;window.__pwned=1;alert(2)&#34;&gt;`, `javascript:window.__pwned=1;alert(3)`} {
					if !strings.Contains(body, want) {
						t.Errorf("the page does not show %q as text", want)
					}
				}
			}
		})
	}
}

// TestHostileSupplyChainIsText: the base image's name and digests, the
// BaseImageOutdated message and every attachment field come from registries;
// TestHostileContentIsInert checks that no markup came of them, and this that
// they are shown, as text, in their own sections.
func TestHostileSupplyChainIsText(t *testing.T) {
	h := newHandler(t, []ui.Item{{Object: hostileObject("evil", "hostile")}})
	body := get(t, h, "GET", "/namespaces/evil/imageconfigs/hostile").Body.String()
	kinds := cells(t, body, "attachments", 0)
	if len(kinds) != 3 || kinds[2] != imgPayload {
		t.Errorf("attachment kinds = %q, want the hostile one shown as text last", kinds)
	}
	if types := cells(t, body, "attachments", 2); len(types) != 3 || !strings.HasPrefix(types[2], scriptPayload) || strings.ContainsAny(types[2], "\x1b\u202e\x00") {
		t.Errorf("attachment artifact types = %q, want the script as text and control characters escaped", types)
	}
	base := cells(t, body, "digests", 1)
	if !slices.Contains(base, jsURL+imgPayload) {
		t.Errorf("the base image name is not shown as text: %q", base)
	}
	for _, want := range []string{
		`<p class="msg">&lt;script&gt;window.__pwned=1;alert(1)&lt;/script&gt;: Base &#34;&gt;&lt;img src=x`,
		`<h2>Base image <span class="tag warn">outdated</span></h2>`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

package ui

import (
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// imagePage is the one-image page's data.
type imagePage struct {
	Title     string
	Obj       *imagesv1alpha1.ImageConfig
	State     state
	Image     string
	Platform  string
	Digests   []digestRow
	Platforms []platformRow
	Config    *imagesv1alpha1.ImageBuildConfig
	Labels    []keyValue
	Steps     []stepRow
	SortSize  bool
	SortLinks struct{ Build, Size string }
	Commands  []string
	// LastChange, BaseImage and Attachments are shown when the status has them.
	LastChange  *changeView
	BaseImage   *baseImageView
	Attachments *attachmentsView
	// FilesURL links the layer file index when the UI has one for this image.
	FilesURL string
}

type digestRow struct {
	Name, Digest, Link, Note string
}

type platformRow struct {
	Platform, OSVersion, Digest, Link, MediaType string
	Size                                         int64
	Selected, Attestation                        bool
}

type keyValue struct{ Key, Value string }

type stepRow struct {
	// Index is the step's position in the build, from 1.
	Index int
	// Layer is the layer's position, from 1; 0 for an empty step.
	Layer       int
	Size        int64
	Permille    int
	Percent     string
	Digest      string
	Link        string
	Instruction string
	Empty       bool
}

// changeView is what changed at the last digest change.
type changeView struct {
	From, To string
	Time     *metav1.Time
	Lines    []string
}

func (h *Handler) buildImage(it *Item, v url.Values) imagePage {
	obj := &it.Object
	st := obj.Status
	p := imagePage{
		Obj: obj, State: stateOf(obj), Image: requestedImage(obj), Platform: requestedPlatform(obj),
		Config: st.Config,
	}
	if obj.Namespace != "" {
		p.Title = obj.Namespace + "/" + obj.Name
	} else {
		p.Title = p.Image
	}

	p.FilesURL = h.filesURL(obj, p.Image, p.Platform)

	add := func(name, d, note string, manifest bool) {
		if d != "" {
			p.Digests = append(p.Digests, digestRow{Name: name, Digest: d, Link: h.digestLink(obj, d, "", manifest), Note: note})
		}
	}
	add("digest", st.Digest, st.MediaType, true)
	if st.ManifestDigest != st.Digest {
		add("manifestDigest", st.ManifestDigest, "the "+st.Platform+" manifest", true)
	}
	add("configDigest", st.ConfigDigest, "config blob", false)
	if c := st.LastChange; c != nil {
		p.LastChange = &changeView{From: c.From, To: c.To, Time: c.Time.DeepCopy()}
		for _, l := range []string{c.Summary, c.Truncated} {
			if l != "" {
				p.LastChange.Lines = append(p.LastChange.Lines, l)
			}
		}
	}
	p.BaseImage, p.Attachments = baseView(obj), attachments(obj)

	for _, e := range st.Platforms {
		pl := e.OS + "/" + e.Architecture
		if e.Variant != "" {
			pl += "/" + e.Variant
		}
		p.Platforms = append(p.Platforms, platformRow{
			Platform: pl, OSVersion: e.OSVersion, Digest: e.Digest, MediaType: e.MediaType, Size: e.Size,
			Link:     h.digestLink(obj, e.Digest, pl, true),
			Selected: e.Digest == st.ManifestDigest, Attestation: e.Attestation,
		})
	}

	if st.Config != nil {
		for _, k := range slices.Sorted(mapKeys(st.Config.Labels)) {
			p.Labels = append(p.Labels, keyValue{k, st.Config.Labels[k]})
		}
	}

	steps := it.Steps
	if steps == nil {
		for i, l := range st.Layers {
			steps = append(steps, Step{Layer: i, Size: l.Size, Digest: l.Digest, CreatedBy: l.CreatedBy, Comment: l.Comment})
		}
	}
	var total int64
	for _, s := range steps {
		total += s.Size
	}
	for i, step := range steps {
		r := stepRow{Index: i + 1, Size: step.Size, Digest: step.Digest, Empty: step.EmptyLayer, Instruction: h.instruction(step.CreatedBy, step.Comment)}
		if !step.EmptyLayer && step.Layer >= 0 {
			r.Layer = step.Layer + 1
		}
		if total > 0 {
			r.Permille = int(step.Size * 1000 / total)
			r.Percent = strconv.FormatFloat(float64(step.Size)*100/float64(total), 'f', 1, 64) + "%"
		}
		if step.Digest != "" {
			r.Link = h.digestLink(obj, step.Digest, "", false)
		}
		p.Steps = append(p.Steps, r)
	}
	p.SortSize = v.Get("sort") == "size"
	if p.SortSize {
		sort.SliceStable(p.Steps, func(i, j int) bool { return p.Steps[i].Size > p.Steps[j].Size })
	}
	self := objectLink(obj)
	p.SortLinks.Build = withQuery(self, "sort", "")
	p.SortLinks.Size = withQuery(self, "sort", "size")

	p.Commands = commands(obj, p.Image, p.Platform)
	return p
}

// withQuery sets (or, with an empty value, removes) one query parameter of a local link.
func withQuery(link, key, value string) string {
	u, err := url.Parse(link)
	if err != nil {
		return link
	}
	q := u.Query()
	q.Del(key)
	if value != "" {
		q.Set(key, value)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// digestLink links a digest: a manifest's, when references are resolved on
// demand, to the image at that digest; otherwise to the list filtered by it.
// Links are always local paths, so no registry string can make a javascript: URL.
func (h *Handler) digestLink(obj *imagesv1alpha1.ImageConfig, digest, platform string, manifest bool) string {
	if manifest && h.resolver != nil && obj.Namespace == "" && strings.HasPrefix(digest, "sha256:") {
		repo := requestedImage(obj)
		if i := strings.LastIndex(repo, "@"); i >= 0 {
			repo = repo[:i]
		} else if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		if platform == "" {
			platform = requestedPlatform(obj)
		}
		return "/image?" + url.Values{"ref": {repo + "@" + digest}, "platform": {platform}}.Encode()
	}
	return "/?" + url.Values{"q": {digest}}.Encode()
}

func (h *Handler) instruction(createdBy, comment string) string {
	if h.opts.Instruction != nil {
		return h.opts.Instruction(createdBy, comment)
	}
	if createdBy == "" {
		return comment
	}
	return createdBy
}

// commands are the command lines that print what the page shows.
func commands(obj *imagesv1alpha1.ImageConfig, image, platform string) []string {
	var out []string
	if obj.Namespace != "" {
		base := fmt.Sprintf("kubectl get imageconfig -n %s %s", shellQuote(obj.Namespace), shellQuote(obj.Name))
		out = append(out,
			base+` -o jsonpath='{.status.digest}{"\n"}'`,
			base+` -o jsonpath='{range .status.layers[*]}{.size}{"\t"}{.createdBy}{"\n"}{end}'`,
		)
	}
	flags := ""
	if platform != "" {
		flags += " --platform " + shellQuote(platform)
	}
	if obj.Spec.Insecure {
		flags += " --insecure"
	}
	out = append(out,
		"imageconfig summary "+shellQuote(image)+flags,
		"imageconfig layers "+shellQuote(image)+flags+" --sort size",
	)
	return append(out, supplyChainCommands(obj, image, flags)...)
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && !strings.ContainsRune("-_./:@", r)
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// filesURL links an object's layer file index (issue 18): the manager's for an
// ImageConfig with spec.files.index, or /files for an image resolved on demand
// by a Source that indexes files. Empty when there is none.
func (h *Handler) filesURL(obj *imagesv1alpha1.ImageConfig, image, platform string) string {
	if obj.Namespace != "" {
		if h.opts.ObjectFiles == nil || obj.Spec.Files == nil || !obj.Spec.Files.Index || obj.Status.ManifestDigest == "" {
			return ""
		}
		return objectFilesPath(obj.Namespace, obj.Name)
	}
	if _, ok := h.opts.Source.(FileIndexer); !ok || obj.Status.ManifestDigest == "" {
		return ""
	}
	v := url.Values{"ref": {image}}
	if platform != "" {
		v.Set("platform", platform)
	}
	return "/files?" + v.Encode()
}

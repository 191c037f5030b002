//go:build docs

package docs

import (
	"fmt"
	"regexp"
	"strings"
)

// The info-string markers of runnable documentation, described in docs/development.md.
const (
	runMarker    = "{run}"    // ```sh {run}: make test-docs runs the block
	outputMarker = "{output}" // ```text {output}, right after a run block: its expected stdout
)

// fence is one fenced code block of a Markdown page.
type fence struct {
	line int    // 1-based line of the opening fence
	info string // the info string, such as "sh {run}"
	body string // the lines between the fences, each ending in "\n"
}

// runBlock is a runnable block and, when the page gives one, its expected output.
type runBlock struct {
	file   string
	line   int
	script string
	want   *string // nil: only the exit status is checked
}

func (b runBlock) String() string { return fmt.Sprintf("%s:%d", b.file, b.line) }

var fenceOpen = regexp.MustCompile("^( {0,3})(```+|~~~+)(.*)$")

// fences returns the fenced code blocks of a Markdown page, in order, and the text
// around them: between[i] precedes blocks[i], and the last element follows the last
// block. An unclosed fence is an error.
func fences(text string) (blocks []fence, between []string, err error) {
	lines := strings.SplitAfter(text, "\n")
	var gap strings.Builder
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(strings.TrimRight(lines[i], "\n"))
		if m == nil {
			gap.WriteString(lines[i])
			continue
		}
		indent, marker := len(m[1]), m[2]
		f := fence{line: i + 1, info: strings.TrimSpace(m[3])}
		closed := false
		var body strings.Builder
		for i++; i < len(lines); i++ {
			l := strings.TrimRight(lines[i], "\n")
			t := strings.TrimLeft(l, " ")
			if strings.HasPrefix(t, marker[:1]) && strings.TrimSpace(strings.TrimLeft(t, marker[:1])) == "" && len(t)-len(strings.TrimLeft(t, marker[:1])) >= len(marker) {
				closed = true
				break
			}
			// Remove the opening fence's indentation, as CommonMark does.
			for n := 0; n < indent && strings.HasPrefix(l, " "); n++ {
				l = l[1:]
			}
			body.WriteString(l + "\n")
		}
		if !closed {
			return nil, nil, fmt.Errorf("line %d: the fenced block opened here is never closed", f.line)
		}
		f.body = body.String()
		blocks = append(blocks, f)
		between = append(between, gap.String())
		gap.Reset()
	}
	return blocks, append(between, gap.String()), nil
}

// hasMarker reports whether an info string carries marker after its language.
func hasMarker(info, marker string) bool {
	fields := strings.Fields(info)
	for _, f := range fields[min(1, len(fields)):] {
		if f == marker {
			return true
		}
	}
	return false
}

// runBlocks returns the runnable blocks of a page. An output block must follow a run
// block with nothing but blank lines between them; a run block must be sh or bash.
func runBlocks(file, text string) ([]runBlock, error) {
	fs, between, err := fences(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	var out []runBlock
	for i, f := range fs {
		switch {
		case hasMarker(f.info, runMarker):
			if lang := strings.Fields(f.info)[0]; lang != "sh" && lang != "bash" {
				return nil, fmt.Errorf("%s:%d: a %s block is runnable only as sh or bash, not %q", file, f.line, runMarker, lang)
			}
			out = append(out, runBlock{file: file, line: f.line, script: f.body})
		case hasMarker(f.info, outputMarker):
			if i == 0 || !hasMarker(fs[i-1].info, runMarker) || strings.TrimSpace(between[i]) != "" {
				return nil, fmt.Errorf("%s:%d: a %s block must follow a %s block, with only blank lines between", file, f.line, outputMarker, runMarker)
			}
			want := f.body
			out[len(out)-1].want = &want
		}
	}
	return out, nil
}

// matchOutput compares a block's stdout with its expected output. Runs of blanks and
// tabs count as one space, trailing blanks and blank lines at the end are ignored, and
// "…" in the expected text stands for any text within its line.
func matchOutput(want, got string) error {
	w, g := normalize(want), normalize(got)
	if len(w) != len(g) {
		return fmt.Errorf("want %d lines, got %d:\n%s", len(w), len(g), got)
	}
	for i := range w {
		parts := strings.Split(w[i], "…")
		for j := range parts {
			parts[j] = regexp.QuoteMeta(parts[j])
		}
		if !regexp.MustCompile("^" + strings.Join(parts, ".*") + "$").MatchString(g[i]) {
			return fmt.Errorf("line %d: want %q, got %q; the whole output:\n%s", i+1, w[i], g[i], got)
		}
	}
	return nil
}

var blanks = regexp.MustCompile(`[ \t]+`)

func normalize(s string) []string {
	lines := strings.Split(strings.TrimRight(s, " \t\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(blanks.ReplaceAllString(l, " "))
	}
	if len(lines) == 1 && lines[0] == "" {
		return nil
	}
	return lines
}

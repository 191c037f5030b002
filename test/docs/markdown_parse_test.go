//go:build docs

package docs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func ptr(s string) *string { return &s }

func TestRunBlocks(t *testing.T) {
	tests := []struct {
		name    string
		page    string
		want    []runBlock
		wantErr string
	}{
		{
			name: "plain blocks are not run",
			page: "# T\n```sh\nmake dev\n```\n```text\nout\n```\n",
		},
		{
			name:    "only sh and bash blocks can run",
			page:    "```yaml {run}\na: b\n```\n",
			wantErr: "p.md:1: a {run} block is runnable only as sh or bash",
		},
		{
			name: "a run block with its output",
			page: "text\n\n```sh {run}\necho hi\n```\n\n```text {output}\nhi\n```\n",
			want: []runBlock{{file: "p.md", line: 3, script: "echo hi\n", want: ptr("hi\n")}},
		},
		{
			name: "an indented run block loses its indentation",
			page: "- item\n\n  ```sh {run}\n  echo a\n    echo b\n  ```\n",
			want: []runBlock{{file: "p.md", line: 3, script: "echo a\n  echo b\n"}},
		},
		{
			name: "a longer fence holds a shorter one",
			page: "````sh {run}\ncat <<'X'\n```\nX\n````\n",
			want: []runBlock{{file: "p.md", line: 1, script: "cat <<'X'\n```\nX\n"}},
		},
		{
			name:    "an output block after prose is refused",
			page:    "```sh {run}\necho hi\n```\nSome words.\n```text {output}\nhi\n```\n",
			wantErr: "p.md:5: a {output} block must follow a {run} block",
		},
		{
			name:    "an output block without a run block is refused",
			page:    "```sh\necho hi\n```\n```text {output}\nhi\n```\n",
			wantErr: "must follow a {run} block",
		},
		{
			name:    "an unclosed fence is refused",
			page:    "```sh {run}\necho hi\n",
			wantErr: "p.md: line 1: the fenced block opened here is never closed",
		},
		{
			name: "the marker counts only after the language",
			page: "```{run}\nnot run\n```\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := runBlocks("p.md", tt.page)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(runBlock{})); diff != "" {
				t.Errorf("runBlocks (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMatchOutput(t *testing.T) {
	tests := []struct {
		name, want, got string
		ok              bool
	}{
		{"same", "a b\n", "a b\n", true},
		{"blanks and tabs collapse", "x  y\tz\n", "x y    z\n\n", true},
		{"ellipsis matches any text", "digest sha256:ed5f…\n", "digest sha256:ed5f575ffbf0\n", true},
		{"ellipsis stays within its line", "a…\nb\n", "a1\nc\nb\n", false},
		{"a changed value fails", "ready 1\n", "ready 2\n", false},
		{"a missing line fails", "a\nb\n", "a\n", false},
		{"regexp characters are literal", "a.c (x)\n", "abc (x)\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := matchOutput(tt.want, tt.got)
			if (err == nil) != tt.ok {
				t.Errorf("matchOutput(%q, %q) = %v, want ok=%v", tt.want, tt.got, err, tt.ok)
			}
		})
	}
}

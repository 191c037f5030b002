package demo_test

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/files"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/internal/demo"
)

// TestFilesImage checks what docs/files.md shows of demo/files:1.0.
func TestFilesImage(t *testing.T) {
	ctx := context.Background()
	reg, err := demo.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	opts := manifests.Options{Registry: reg.Addr, Repository: demo.FilesRepository, Tag: demo.Tag, Network: manifests.Network{Insecure: true}}
	res, err := manifests.Resolve(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	v, err := (&files.Indexer{}).IndexResolved(ctx, opts, res)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range v.Findings {
		got = append(got, f.Kind+" "+f.Path)
	}
	want := []string{
		"deletedButPresent /var/cache/apk/APKINDEX.tar.gz",
		"deletedButPresent /root/.npmrc",
		"overwritten /etc/app.conf",
		"setuid /usr/bin/passwd",
		"wastedBytes ",
		"wastedBytes ",
		"worldWritable /app/uploads",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("findings (-want +got):\n%s", diff)
	}
}

package main

import (
	"flag"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imageconfig/imageconfig-operator/finders/files"
)

func TestFilesFlagDefaults(t *testing.T) {
	fs := flag.NewFlagSet("manager", flag.ContinueOnError)
	o := bindFilesFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(filesOptions{CacheDir: defaultFilesCacheDir(), CacheSize: "512Mi", MaxLayerSize: "4Gi"}, *o); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	o.CacheDir = filepath.Join(t.TempDir(), "files")
	s, err := o.indexer()
	if err != nil {
		t.Fatal(err)
	}
	if s.Indexer.Limits.MaxLayerSize != 4<<30 || files.DefaultMaxLayerSize != 4<<30 || s.Indexer.Cache == nil {
		t.Errorf("indexer: max layer size %d, cache %v; want 4 GiB and a cache", s.Indexer.Limits.MaxLayerSize, s.Indexer.Cache)
	}
}

func TestFilesFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		maxSize int64
	}{
		{args: []string{"--files-max-layer-size=1Gi", "--files-cache-size=64Mi"}, maxSize: 1 << 30},
		{args: []string{"--files-max-layer-size=0"}, wantErr: `--files-max-layer-size "0" is not a positive size`},
		{args: []string{"--files-cache-size=lots"}, wantErr: `--files-cache-size "lots" is not a positive size`},
		{args: []string{"--files-cache-dir="}, wantErr: "--files-cache-dir is empty"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("manager", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			o := bindFilesFlags(fs)
			o.CacheDir = filepath.Join(t.TempDir(), "files")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			s, err := o.indexer()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || s.Indexer.Limits.MaxLayerSize != tt.maxSize {
				t.Errorf("err %v, max layer size %d, want %d", err, s.Indexer.Limits.MaxLayerSize, tt.maxSize)
			}
		})
	}
}

package main

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMetadataSourceDateEpoch(t *testing.T) {
	commit, err := strconv.ParseInt(git("log", "-1", "--format=%ct"), 10, 64)
	if err != nil {
		t.Fatalf("reading the commit's time: %v", err)
	}
	tests := []struct {
		epoch   string
		want    time.Time
		wantErr string
	}{
		{epoch: "1700000000", want: time.Date(2023, 11, 14, 22, 13, 20, 0, time.UTC)},
		{epoch: "0", want: time.Unix(0, 0).UTC()},
		{epoch: "", want: time.Unix(commit, 0).UTC()}, // unset: the commit's time
		{epoch: "-1", wantErr: `SOURCE_DATE_EPOCH "-1" is not a non-negative count of seconds since 1970`},
		{epoch: "abc", wantErr: `SOURCE_DATE_EPOCH "abc" is not a non-negative count of seconds since 1970`},
		{epoch: "1.5", wantErr: `SOURCE_DATE_EPOCH "1.5"`},
	}
	for _, tt := range tests {
		t.Run(tt.epoch, func(t *testing.T) {
			t.Setenv("SOURCE_DATE_EPOCH", tt.epoch)
			m, err := metadata(options{version: "v1", revision: "abc123"})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !m.Created.Equal(tt.want) || m.Created.Location() != time.UTC {
				t.Errorf("Created = %v, want %v", m.Created, tt.want)
			}
			if m.Version != "v1" || m.Revision != "abc123" {
				t.Errorf("version %q, revision %q: the flags were not kept", m.Version, m.Revision)
			}
		})
	}
}

package managercache

import (
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/cache"
)

func TestShardFlags(t *testing.T) {
	const base = "imageconfig-operator.images.imageconfig.dev"
	tests := []struct {
		selector string
		wantErr  string
		wantID   string // "" means base plus a hash
	}{
		{selector: "", wantID: base},
		{selector: ShardLabel + "=shard1"},
		{selector: "!" + ShardLabel},
		{selector: ShardLabel + " in (a,b", wantErr: "is not a label selector"},
		{selector: "a=b=c", wantErr: "is not a label selector"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.selector, func(t *testing.T) {
			sel, err := ParseWatchSelector(tt.selector)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), "--watch-label-selector") || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one naming the flag and %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := LeaderElectionID(base, sel)
			if tt.wantID != "" && id != tt.wantID {
				t.Errorf("id = %q, want %q", id, tt.wantID)
			}
			if tt.wantID == "" && (!strings.HasPrefix(id, base+"-") || len(id) != len(base)+9) {
				t.Errorf("id = %q, want %s-<8 hex digits>", id, base)
			}
			if other, dup := seen[id]; dup {
				t.Errorf("selectors %q and %q share the leader-election ID %q", other, tt.selector, id)
			}
			seen[id] = tt.selector
			opts := CacheOptions(sel)
			if opts.DefaultTransform == nil {
				t.Error("managedFields are not stripped")
			}
			var bo cache.ByObject
			for _, v := range opts.ByObject {
				bo = v
			}
			if len(opts.ByObject) != 1 || bo.Transform == nil {
				t.Errorf("ByObject = %v, want the ImageConfig transform", opts.ByObject)
			}
			if (bo.Label != nil) != (sel != nil) {
				t.Errorf("ByObject label = %v for selector %q", bo.Label, tt.selector)
			}
		})
	}
}

package main

import (
	"runtime/debug"
	"testing"
)

func TestSetGCPercent(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))

	unset := func(string) (string, bool) { return "", false }
	if got := setGCPercent(unset); got != defaultGCPercent {
		t.Errorf("GOGC unset: setGCPercent = %d, want %d", got, defaultGCPercent)
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("GOGC unset: the runtime's percent is %d, want %d", got, defaultGCPercent)
	}

	// GOGC set: the runtime's own value stays (here 80, as if parsed from GOGC=80).
	debug.SetGCPercent(80)
	set := func(k string) (string, bool) { return "80", k == "GOGC" }
	if got := setGCPercent(set); got != 80 {
		t.Errorf("GOGC=80: setGCPercent = %d, want 80", got)
	}
	if got := debug.SetGCPercent(100); got != 80 {
		t.Errorf("GOGC=80: the runtime's percent is %d, want 80", got)
	}
}

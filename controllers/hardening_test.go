package controllers

import (
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testenv"
)

// TestHardening shares one control plane between the hardening suites: registry
// faults, hostile content and convergence under failure.
func TestHardening(t *testing.T) {
	env := testenv.Start(t)
	t.Run("convergence under failure", func(t *testing.T) { t.Parallel(); testConvergence(t, env, fastFinder) })
	t.Run("faults", func(t *testing.T) { t.Parallel(); testFaults(t, env) })
	t.Run("hostile content", func(t *testing.T) { t.Parallel(); testHostile(t, env) })
}

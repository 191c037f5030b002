package controllers

import "testing"

// TestHardening shares one control plane between the hardening suites: registry
// faults, hostile content and convergence under failure.
func TestHardening(t *testing.T) {
	env := controlPlane.Get(t)
	// The plain finder over 1,000 objects; the shared finder the manager runs over
	// 400, which keeps the suite's added time near 10 s.
	t.Run("convergence under failure", func(t *testing.T) { t.Parallel(); testConvergence(t, env, fastFinder, 10) })
	t.Run("convergence under failure, shared finder", func(t *testing.T) { t.Parallel(); testConvergence(t, env, fastSharedFinder(), 4) })
	t.Run("faults", func(t *testing.T) { t.Parallel(); testFaults(t, env) })
	t.Run("hostile content", func(t *testing.T) { t.Parallel(); testHostile(t, env) })
}

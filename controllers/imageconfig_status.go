package controllers

import (
	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
	"github.com/imageconfig/imageconfig-operator/internal/imagestatus"
)

// The controller's names for the one mapping between finder results and the
// status, which lives in internal/imagestatus (`imageconfig serve` uses it too).
// Conditions, reasons, messages, truncation and lastChange are written there
// and nowhere else.
var (
	setCondition   = imagestatus.SetCondition
	markReady      = imagestatus.MarkReady
	markStalled    = imagestatus.MarkStalled
	markSuspended  = imagestatus.MarkSuspended
	markFailed     = imagestatus.MarkFailed
	applyResult    = imagestatus.Apply
	previousResult = imagestatus.Previous
	recordChange   = imagestatus.RecordChange
	setRequested   = imagestatus.SetRequested
	options        = imagestatus.Options
	applyRateLimit = imagestatus.ApplyRateLimit
	rateLimitOf    = imagestatus.RateLimitOf
	readyMessage   = imagestatus.ReadyMessage
)

// moveSubject names what moved, for the change summary: "tag 1.27".
func moveSubject(obj *imagesv1alpha1.ImageConfig) string { return imagestatus.MoveSubject(obj.Spec) }

// Package imagestatus is the one mapping between the finders and the
// ImageConfig API: a finder result becomes status fields, a finder error
// becomes conditions, reasons and messages, a moved tag becomes
// status.lastChange, and what does not fit is cut and noted in
// status.truncated. The controller, `imageconfig serve` and (through the
// status they fill) the web UI all use it, so a new status field is one change
// here.
//
// Who owns the types. The finders own the model (manifests.Summary,
// compare.Change, manifests.Error): they must not import k8s.io, and the CLI
// uses them without a cluster. The API types in api/v1alpha1 are a second,
// deliberate declaration of the same shapes, because an API type carries what a
// finder type must not: metav1.Time, validation markers, deep-copy functions
// and a compatibility promise to the cluster. The shapes are converted here by
// plain Go conversions where the two types are identical (the compiler keeps
// those in step) and by field copies where they are not (metav1.Time, bounded
// lists). The tests fill every field of the finder types (TestApplyResult and
// TestPreviousResult check their fixture by reflection, TestChangeDetails fills
// compare.Change by reflection) and compare the JSON of both sides, so a field
// that is added on one side and not mapped fails a test rather than vanishing
// from the status. No production code converts through JSON.
package imagestatus

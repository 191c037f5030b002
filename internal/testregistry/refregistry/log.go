package refregistry

import (
	"net/http"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
)

// RequestLog is the test kit's one request log, testregistry.RequestLog; its
// CountPrefix counts by path prefix.
type RequestLog = testregistry.RequestLog

// Request is one logged request, testregistry.Request.
type Request = testregistry.Request

// record logs the requests to h, except this package's own (marked with
// internalHeader and marker, when marker is not empty).
func record(l *RequestLog, marker string, h http.Handler) http.Handler {
	return l.Record(h, func(req *http.Request) bool {
		return marker != "" && req.Header.Get(internalHeader) == marker
	})
}

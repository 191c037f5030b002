package main

import (
	"errors"
	"strings"

	"github.com/imageconfig/imageconfig-operator/finders/manifests"
)

// cliWording rewrites the finders' phrases that name fields of the ImageConfig
// API into the flags of this command. The finders serve the controller and the
// CLI alike; only here is it known that "insecure" is spelt --insecure.
var cliWording = strings.NewReplacer(
	"set insecure to allow plain HTTP", "pass --insecure to allow plain HTTP",
	"the registry is not marked insecure", "--insecure is not set",
)

// errorLine renders err as the one line the CLI prints after "imageconfig: ".
// A finders error reads "Reason: message", without the reason repeated at the
// start of the message, and in the CLI's words.
func errorLine(err error) string {
	var e *manifests.Error
	if !errors.As(err, &e) {
		return oneLine(err.Error())
	}
	msg := oneLine(cliWording.Replace(e.Error()))
	if p := strings.ToLower(string(e.Reason)) + ": "; strings.HasPrefix(strings.ToLower(msg), p) {
		msg = msg[len(p):]
	}
	if msg == "" || msg == string(e.Reason) {
		return string(e.Reason)
	}
	return string(e.Reason) + ": " + msg
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

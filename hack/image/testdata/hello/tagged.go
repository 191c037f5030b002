//go:build imagetest

package main

// A GOFLAGS=-tags=imagetest leaking into the build changes the binary.
func init() { greeting = "tagged" }

// Command imageconfig prints a container image's config, resolved through the
// registry's manifest chain for one platform.
//
//	imageconfig config    REF   the config blob's JSON, indented by 2 spaces
//	imageconfig summary   REF   digests, build config, base image and layers (-o json: the status field names)
//	imageconfig platforms REF   one line per index entry: os/arch[/variant] digest size
//	imageconfig digest    REF   the digest the tag points to; with --platform, the platform manifest's
//	imageconfig layers    REF   one row per build step: index, size, share, Dockerfile instruction
//	imageconfig diff REF1 REF2  what changed: digests, config fields, layers, base image
//	imageconfig version         the version of this build
//	imageconfig completion SHELL  a shell completion script
//
// Exit codes: 0 on success, 1 on a registry error (one line on stderr), 2 on a usage error.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

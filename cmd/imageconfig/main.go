// Command imageconfig prints a container image's config, resolved through the
// registry's manifest chain for one platform.
//
//	imageconfig config    REF   the config blob's JSON, indented by 2 spaces
//	imageconfig summary   REF   the summary, with the field names of ImageConfig.status
//	imageconfig platforms REF   one line per index entry: os/arch[/variant] digest size
//	imageconfig digest    REF   the digest the tag points to; with --platform, the platform manifest's
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

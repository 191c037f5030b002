package manifests

import "strings"

// DockerfileLine renders a history entry's createdBy as the Dockerfile
// instruction it came from, as registry explorers do: "/bin/sh -c #(nop) " is
// stripped (ENV, LABEL, CMD… of the classic builder), "/bin/sh -c " becomes
// "RUN ", and BuildKit's trailing " # buildkit" is dropped. An empty createdBy
// falls back to the comment.
func DockerfileLine(createdBy, comment string) string {
	s := strings.TrimSpace(createdBy)
	if s == "" {
		return strings.TrimSpace(comment)
	}
	s = strings.TrimSuffix(s, " # buildkit")
	switch {
	case strings.HasPrefix(s, "/bin/sh -c #(nop) "):
		s = strings.TrimPrefix(s, "/bin/sh -c #(nop) ")
	case strings.HasPrefix(s, "/bin/sh -c "):
		s = "RUN " + strings.TrimPrefix(s, "/bin/sh -c ")
	}
	return strings.TrimSpace(s)
}

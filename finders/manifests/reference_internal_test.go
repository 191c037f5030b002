package manifests

import "testing"

// TestParseReferenceDockerHub: every name of Docker Hub contacts its API host, adds
// "library/" to one-component repositories and reads as index.docker.io.
func TestParseReferenceDockerHub(t *testing.T) {
	tests := []struct {
		registry, repository  string
		host, path, canonical string
		authRegistry          string
	}{
		{"", "nginx", "registry-1.docker.io", "library/nginx", "index.docker.io/library/nginx:latest", "index.docker.io"},
		{"docker.io", "nginx", "registry-1.docker.io", "library/nginx", "index.docker.io/library/nginx:latest", "index.docker.io"},
		{"index.docker.io", "nginx", "registry-1.docker.io", "library/nginx", "index.docker.io/library/nginx:latest", "index.docker.io"},
		{"registry-1.docker.io", "nginx", "registry-1.docker.io", "library/nginx", "index.docker.io/library/nginx:latest", "index.docker.io"},
		{"docker.io", "library/nginx", "registry-1.docker.io", "library/nginx", "index.docker.io/library/nginx:latest", "index.docker.io"},
		{"docker.io", "org/app", "registry-1.docker.io", "org/app", "index.docker.io/org/app:latest", "index.docker.io"},
		{"", "org/app", "registry-1.docker.io", "org/app", "index.docker.io/org/app:latest", "index.docker.io"},
		{"ghcr.io", "nginx", "ghcr.io", "nginx", "ghcr.io/nginx:latest", "ghcr.io"},
		{"localhost:5000", "nginx", "localhost:5000", "nginx", "localhost:5000/nginx:latest", "localhost:5000"},
		{"127.0.0.1:5001", "demo/hello", "127.0.0.1:5001", "demo/hello", "127.0.0.1:5001/demo/hello:latest", "127.0.0.1:5001"},
	}
	for _, tt := range tests {
		t.Run(tt.registry+"|"+tt.repository, func(t *testing.T) {
			ref, err := parseReference(Options{Registry: tt.registry, Repository: tt.repository})
			if err != nil {
				t.Fatal(err)
			}
			if ref.host != tt.host || ref.repo.RegistryStr() != tt.host {
				t.Errorf("host = %q (repo registry %q), want %q", ref.host, ref.repo.RegistryStr(), tt.host)
			}
			if got := ref.repo.RepositoryStr(); got != tt.path {
				t.Errorf("repository path = %q, want %q", got, tt.path)
			}
			if ref.canonical != tt.canonical || ref.describe() != tt.canonical {
				t.Errorf("canonical = %q, want %q", ref.canonical, tt.canonical)
			}
			if ref.tag != "latest" || ref.identifier() != "latest" {
				t.Errorf("tag = %q, identifier = %q, want latest", ref.tag, ref.identifier())
			}
			if got := ref.authRepo.RegistryStr(); got != tt.authRegistry {
				t.Errorf("credentials are looked up for %q, want %q", got, tt.authRegistry)
			}
			if got := ref.authRepo.RepositoryStr(); got != tt.path {
				t.Errorf("credentials repository = %q, want %q", got, tt.path)
			}
		})
	}
}

// TestParseReferenceRoundTrip: ParseReference then parseReference gives the
// canonical reference that users see.
func TestParseReferenceRoundTrip(t *testing.T) {
	const d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	tests := map[string]string{
		"nginx":                              "index.docker.io/library/nginx:latest",
		"nginx:1.27":                         "index.docker.io/library/nginx:1.27",
		"library/nginx":                      "index.docker.io/library/nginx:latest",
		"docker.io/nginx":                    "index.docker.io/library/nginx:latest",
		"index.docker.io/library/nginx:1.27": "index.docker.io/library/nginx:1.27",
		"docker.io/org/app:v1":               "index.docker.io/org/app:v1",
		"ghcr.io/org/app:v1":                 "ghcr.io/org/app:v1",
		"localhost:5000/x@" + d:              "localhost:5000/x@" + d,
		"127.0.0.1:5001/demo/hello:1.0":      "127.0.0.1:5001/demo/hello:1.0",
	}
	for in, want := range tests {
		o, err := ParseReference(in, "")
		if err != nil {
			t.Errorf("ParseReference(%q): %v", in, err)
			continue
		}
		ref, err := parseReference(o)
		if err != nil {
			t.Errorf("parseReference(%+v): %v", o, err)
			continue
		}
		if ref.canonical != want {
			t.Errorf("%q: canonical = %q, want %q", in, ref.canonical, want)
		}
	}
}

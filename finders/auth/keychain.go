// Package auth turns credentials given as plain data (docker config files,
// username and password, PEM certificates) into go-containerregistry keychains
// and TLS settings. The controller and the imageconfig CLI share it; it knows
// nothing of Kubernetes.
//
// Nothing here logs, and no error message contains a credential.
package auth

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// dockerHubHosts are the names of Docker Hub, normalised to index.docker.io, the key
// docker's config.json uses.
var dockerHubHosts = map[string]bool{
	"docker.io":               true,
	"index.docker.io":         true,
	"registry-1.docker.io":    true,
	"registry.hub.docker.com": true,
}

// IsDockerHub reports whether host is one of the names of Docker Hub.
func IsDockerHub(host string) bool { return dockerHubHosts[strings.ToLower(host)] }

// entry is one credential of a docker config, for a host and an optional repository path.
type entry struct {
	key  string // as written, for messages
	host string // normalised host[:port]; may contain * globs
	path string // repository path prefix, or ""
	cfg  authn.AuthConfig
}

// Keychain holds the credentials of a docker config file. It resolves a
// repository to the most specific matching entry: an exact host before a
// wildcard host, a longer repository path before a shorter one. It never runs
// credential helpers: data that comes from a Kubernetes Secret must not make the
// manager execute programs.
type Keychain struct {
	entries []entry
}

var _ authn.Keychain = (*Keychain)(nil)

// authEntry is one value of a docker config's "auths".
type authEntry struct {
	Auth          string `json:"auth,omitempty"`
	Username      string `json:"username,omitempty"`
	Password      string `json:"password,omitempty"`
	IdentityToken string `json:"identitytoken,omitempty"`
	RegistryToken string `json:"registrytoken,omitempty"`
	Email         string `json:"email,omitempty"`
}

// ParseDockerConfigJSON parses the content of a kubernetes.io/dockerconfigjson
// Secret's .dockerconfigjson key: {"auths": {...}}. The "auths" object is required.
func ParseDockerConfigJSON(data []byte) (*Keychain, error) {
	return parseConfigJSON(data, true)
}

// ParseDockerConfigFile parses a ~/.docker/config.json file. Unlike a pull Secret,
// the file may have no "auths" at all, when it only names credential helpers; the
// keychain is then empty.
func ParseDockerConfigFile(data []byte) (*Keychain, error) {
	return parseConfigJSON(data, false)
}

func parseConfigJSON(data []byte, requireAuths bool) (*Keychain, error) {
	var cfg struct {
		Auths map[string]authEntry `json:"auths"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonProblem(err))
	}
	if requireAuths && cfg.Auths == nil {
		return nil, fmt.Errorf(`no "auths" object`)
	}
	return newKeychain(cfg.Auths)
}

// ParseDockerCfg parses the legacy ~/.dockercfg format of a kubernetes.io/dockercfg
// Secret's .dockercfg key: a JSON object of registry to credentials.
func ParseDockerCfg(data []byte) (*Keychain, error) {
	var auths map[string]authEntry
	if err := json.Unmarshal(data, &auths); err != nil {
		return nil, fmt.Errorf("not valid JSON: %s", jsonProblem(err))
	}
	return newKeychain(auths)
}

// jsonProblem describes a JSON error without quoting the input, which may hold secrets.
func jsonProblem(err error) string {
	switch e := err.(type) {
	case *json.SyntaxError:
		return fmt.Sprintf("syntax error at byte %d", e.Offset)
	case *json.UnmarshalTypeError:
		return fmt.Sprintf("%s at %q must be %s", e.Value, e.Field, e.Type)
	}
	return "malformed"
}

func newKeychain(auths map[string]authEntry) (*Keychain, error) {
	k := &Keychain{}
	keys := make([]string, 0, len(auths))
	for key := range auths {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		a := auths[key]
		host, p := normaliseKey(key)
		if host == "" {
			return nil, fmt.Errorf("registry key %q names no host", key)
		}
		cfg := authn.AuthConfig{Username: a.Username, Password: a.Password, IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken}
		if a.Auth != "" {
			user, pass, err := decodeAuth(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("the auth of %q %w", key, err)
			}
			cfg.Username, cfg.Password = user, pass
		}
		if cfg == (authn.AuthConfig{}) {
			return nil, fmt.Errorf("the entry of %q has no auth, username, password or token", key)
		}
		k.entries = append(k.entries, entry{key: key, host: host, path: p, cfg: cfg})
	}
	return k, nil
}

func decodeAuth(s string) (user, pass string, err error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimSpace(s)); err != nil {
			return "", "", fmt.Errorf("is not base64")
		}
	}
	user, pass, ok := strings.Cut(string(b), ":")
	if !ok || user == "" {
		return "", "", fmt.Errorf("is not base64 of username:password")
	}
	return user, pass, nil
}

// normaliseKey turns a config key such as "https://index.docker.io/v1/",
// "registry.example.com:5000" or "ghcr.io/org" into a host and a repository path.
func normaliseKey(key string) (host, repoPath string) {
	k := strings.TrimSpace(key)
	if i := strings.Index(k, "://"); i >= 0 {
		k = k[i+3:]
	}
	host, repoPath, _ = strings.Cut(k, "/")
	host = strings.ToLower(host)
	repoPath = strings.Trim(repoPath, "/")
	if repoPath == "v1" || repoPath == "v2" {
		repoPath = ""
	}
	if dockerHubHosts[host] {
		host = name.DefaultRegistry
	}
	return host, repoPath
}

// Resolve implements authn.Keychain. It returns authn.Anonymous when no entry matches.
func (k *Keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if e := k.match(r); e != nil {
		return authn.FromConfig(e.cfg), nil
	}
	return authn.Anonymous, nil
}

func (k *Keychain) match(r authn.Resource) *entry {
	host := strings.ToLower(r.RegistryStr())
	if dockerHubHosts[host] {
		host = name.DefaultRegistry
	}
	repo := strings.TrimPrefix(r.String(), r.RegistryStr())
	repo = strings.Trim(repo, "/")
	var best *entry
	bestScore := -1
	for i := range k.entries {
		e := &k.entries[i]
		exact := e.host == host
		if !exact && !globMatch(e.host, host) {
			continue
		}
		if e.path != "" && repo != e.path && !strings.HasPrefix(repo, e.path+"/") {
			continue
		}
		score := len(e.path) * 2
		if exact {
			score++
		}
		if score > bestScore {
			best, bestScore = e, score
		}
	}
	return best
}

// globMatch matches "*.example.com" against "registry.example.com", label by label
// and with the same port, as the kubelet does.
func globMatch(pattern, host string) bool {
	if !strings.Contains(pattern, "*") {
		return false
	}
	ph, pp, _ := strings.Cut(pattern, ":")
	hh, hp, _ := strings.Cut(host, ":")
	if pp != hp {
		return false
	}
	pl, hl := strings.Split(ph, "."), strings.Split(hh, ".")
	if len(pl) != len(hl) {
		return false
	}
	for i := range pl {
		if ok, err := path.Match(pl[i], hl[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

// Static is a keychain that gives the same credentials for every registry: the
// username and password of a kubernetes.io/basic-auth Secret, or of CLI flags.
type Static authn.AuthConfig

// Resolve implements authn.Keychain.
func (s Static) Resolve(authn.Resource) (authn.Authenticator, error) {
	return authn.FromConfig(authn.AuthConfig(s)), nil
}

// Source is a named keychain. The name is what status.authSource reports,
// such as "secret/pull" or "serviceAccount/builder".
type Source struct {
	// Name is what status.authSource reports when this source is used.
	Name string
	// Keychain resolves the source's credentials for a repository.
	Keychain authn.Keychain
}

// Sources are tried in order; the first with credentials for the repository wins.
type Sources []Source

// Anonymous is the name reported when no source had credentials.
const Anonymous = "anonymous"

// Resolve returns the credentials of the first source that has some for r, with the
// source's name, or authn.Anonymous and "anonymous".
func (s Sources) Resolve(r authn.Resource) (authn.Authenticator, string, error) {
	for _, src := range s {
		a, err := src.Keychain.Resolve(r)
		if err != nil {
			return nil, "", fmt.Errorf("reading credentials of %s: %w", src.Name, err)
		}
		if a != nil && a != authn.Anonymous {
			return a, src.Name, nil
		}
	}
	return authn.Anonymous, Anonymous, nil
}

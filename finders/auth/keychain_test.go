package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
)

// Distinctive secrets: no error message may contain them.
const (
	secretPW   = "s3cr3t-Pw-9QxZ"
	secretUser = "user-8Kq"
	secretTok  = "idtok-Zz71-secret"
)

var (
	secretAuth    = base64.StdEncoding.EncodeToString([]byte(secretUser + ":" + secretPW))
	secretAuthRaw = base64.RawStdEncoding.EncodeToString([]byte(secretUser + ":" + secretPW + "x"))
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// repo parses a repository for the keychain to resolve.
func repo(t *testing.T, s string) name.Repository {
	t.Helper()
	r, err := name.NewRepository(s)
	if err != nil {
		t.Fatalf("repository %q: %v", s, err)
	}
	return r
}

// resolveCfg resolves r through kc and returns the credentials, or nil for
// authn.Anonymous.
func resolveCfg(t *testing.T, kc authn.Keychain, r authn.Resource) *authn.AuthConfig {
	t.Helper()
	a, err := kc.Resolve(r)
	if err != nil {
		t.Fatalf("Resolve(%s): %v", r, err)
	}
	if a == authn.Anonymous {
		return nil
	}
	cfg, err := a.Authorization()
	if err != nil {
		t.Fatalf("Authorization(%s): %v", r, err)
	}
	return cfg
}

// configJSON builds a docker config.json with the given auths.
func configJSON(t *testing.T, auths map[string]map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"auths": auths})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dockerCfg builds a legacy .dockercfg with the given auths.
func dockerCfg(t *testing.T, auths map[string]map[string]string) []byte {
	t.Helper()
	b, err := json.Marshal(auths)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parsers are the two formats; every credential test runs against both.
var parsers = []struct {
	name  string
	parse func([]byte) (*auth.Keychain, error)
	build func(*testing.T, map[string]map[string]string) []byte
}{
	{"dockerconfigjson", auth.ParseDockerConfigJSON, configJSON},
	{"dockercfg", auth.ParseDockerCfg, dockerCfg},
}

func TestParseCredentials(t *testing.T) {
	tests := []struct {
		name  string
		entry map[string]string
		want  authn.AuthConfig
	}{
		{"auth, standard base64", map[string]string{"auth": secretAuth}, authn.AuthConfig{Username: secretUser, Password: secretPW}},
		{"auth, raw base64 without padding", map[string]string{"auth": secretAuthRaw}, authn.AuthConfig{Username: secretUser, Password: secretPW + "x"}},
		{"auth with surrounding spaces", map[string]string{"auth": " " + secretAuth + "\n"}, authn.AuthConfig{Username: secretUser, Password: secretPW}},
		{"password containing colons", map[string]string{"auth": b64("u:a:b:c")}, authn.AuthConfig{Username: "u", Password: "a:b:c"}},
		{"empty password", map[string]string{"auth": b64("u:")}, authn.AuthConfig{Username: "u"}},
		{"explicit username and password", map[string]string{"username": secretUser, "password": secretPW}, authn.AuthConfig{Username: secretUser, Password: secretPW}},
		{"auth wins over username and password", map[string]string{"auth": b64("a:b"), "username": "c", "password": "d"}, authn.AuthConfig{Username: "a", Password: "b"}},
		{"identitytoken", map[string]string{"identitytoken": secretTok}, authn.AuthConfig{IdentityToken: secretTok}},
		{"identitytoken with a username", map[string]string{"username": "<token>", "identitytoken": secretTok}, authn.AuthConfig{Username: "<token>", IdentityToken: secretTok}},
		{"registrytoken", map[string]string{"registrytoken": secretTok}, authn.AuthConfig{RegistryToken: secretTok}},
		{"email is ignored", map[string]string{"auth": b64("a:b"), "email": "a@example.com"}, authn.AuthConfig{Username: "a", Password: "b"}},
	}
	for _, p := range parsers {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				kc, err := p.parse(p.build(t, map[string]map[string]string{"reg.example.com": tt.entry}))
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				got := resolveCfg(t, kc, repo(t, "reg.example.com/some/app"))
				if got == nil {
					t.Fatal("resolved to anonymous")
				}
				if *got != tt.want {
					t.Errorf("credentials = %+v, want %+v", *got, tt.want)
				}
			})
		}
	}
}

func TestParseEmptyAuths(t *testing.T) {
	for _, p := range parsers {
		t.Run(p.name, func(t *testing.T) {
			kc, err := p.parse(p.build(t, map[string]map[string]string{}))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			if got := resolveCfg(t, kc, repo(t, "reg.example.com/app")); got != nil {
				t.Errorf("empty config resolved to %+v", got)
			}
		})
	}
}

// TestKeychainMatch checks which entry of a config answers for a repository.
// Every entry's username is its key, so the test can tell them apart.
func TestKeychainMatch(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		repo string
		want string // the key whose entry answers; "" for anonymous
	}{
		// Docker Hub's many names.
		{"hub: https://index.docker.io/v1/", []string{"https://index.docker.io/v1/"}, "library/nginx", "https://index.docker.io/v1/"},
		{"hub: docker.io", []string{"docker.io"}, "library/nginx", "docker.io"},
		{"hub: registry-1.docker.io", []string{"registry-1.docker.io"}, "library/nginx", "registry-1.docker.io"},
		{"hub: index.docker.io", []string{"index.docker.io"}, "someone/app", "index.docker.io"},
		{"hub: registry.hub.docker.com", []string{"registry.hub.docker.com"}, "docker.io/someone/app", "registry.hub.docker.com"},
		{"hub: upper case", []string{"HTTPS://Index.Docker.IO/v1/"}, "library/nginx", "HTTPS://Index.Docker.IO/v1/"},
		{"hub key does not match ghcr.io", []string{"https://index.docker.io/v1/"}, "ghcr.io/org/app", ""},
		{"hub repository with a docker.io/ prefix", []string{"https://index.docker.io/v1/"}, "docker.io/library/nginx", "https://index.docker.io/v1/"},

		// Schemes, ports and API suffixes.
		{"http:// scheme with port", []string{"http://host:5000"}, "host:5000/app", "http://host:5000"},
		{"https:// scheme", []string{"https://reg.example.com"}, "reg.example.com/app", "https://reg.example.com"},
		{"/v2/ suffix", []string{"host:5000/v2/"}, "host:5000/app", "host:5000/v2/"},
		{"/v1/ suffix", []string{"host:5000/v1/"}, "host:5000/team/app", "host:5000/v1/"},
		{"trailing slash", []string{"reg.example.com/"}, "reg.example.com/app", "reg.example.com/"},
		{"port must match: other port", []string{"host:5000"}, "host:5001/app", ""},
		{"port must match: no port in repository", []string{"host:5000"}, "host/app", ""},
		{"port must match: no port in key", []string{"host"}, "host:5000/app", ""},
		{"host case is ignored", []string{"Reg.Example.COM"}, "reg.example.com/app", "Reg.Example.COM"},
		{"another host", []string{"reg.example.com"}, "other.example.com/app", ""},
		{"host is not a suffix match", []string{"example.com"}, "reg.example.com/app", ""},

		// Path-scoped keys.
		{"path: org matches org/app", []string{"ghcr.io/org"}, "ghcr.io/org/app", "ghcr.io/org"},
		{"path: org matches org/team/app", []string{"ghcr.io/org"}, "ghcr.io/org/team/app", "ghcr.io/org"},
		{"path: exact repository", []string{"ghcr.io/org/app"}, "ghcr.io/org/app", "ghcr.io/org/app"},
		{"path: trailing slash", []string{"ghcr.io/org/"}, "ghcr.io/org/app", "ghcr.io/org/"},
		{"path: other org", []string{"ghcr.io/org"}, "ghcr.io/other/app", ""},
		{"path: prefix of a longer org", []string{"ghcr.io/org"}, "ghcr.io/organisation/app", ""},
		{"path: longer repository key does not match shorter repository", []string{"ghcr.io/org/app"}, "ghcr.io/org", ""},
		{"path: with scheme", []string{"https://ghcr.io/org"}, "ghcr.io/org/app", "https://ghcr.io/org"},
		{"path beats host", []string{"ghcr.io", "ghcr.io/org"}, "ghcr.io/org/app", "ghcr.io/org"},
		{"host answers outside the path", []string{"ghcr.io", "ghcr.io/org"}, "ghcr.io/other/app", "ghcr.io"},
		{"longer path beats shorter path", []string{"ghcr.io/org", "ghcr.io/org/team", "ghcr.io"}, "ghcr.io/org/team/app", "ghcr.io/org/team"},
		{"shorter path when the longer does not match", []string{"ghcr.io/org", "ghcr.io/org/team"}, "ghcr.io/org/other", "ghcr.io/org"},
		{"hub path", []string{"docker.io", "docker.io/someone"}, "someone/app", "docker.io/someone"},
		{"hub library path", []string{"docker.io", "docker.io/library"}, "nginx", "docker.io/library"},

		// Wildcards.
		{"wildcard: one label", []string{"*.example.com"}, "reg.example.com/app", "*.example.com"},
		{"wildcard: not two labels", []string{"*.example.com"}, "a.b.example.com/app", ""},
		{"wildcard: not the bare domain", []string{"*.example.com"}, "example.com/app", ""},
		{"wildcard: other domain", []string{"*.example.com"}, "reg.example.org/app", ""},
		{"wildcard: port must match", []string{"*.example.com:5000"}, "reg.example.com:5000/app", "*.example.com:5000"},
		{"wildcard: other port", []string{"*.example.com:5000"}, "reg.example.com:5001/app", ""},
		{"wildcard: no port in key", []string{"*.example.com"}, "reg.example.com:5000/app", ""},
		{"wildcard: no port in repository", []string{"*.example.com:5000"}, "reg.example.com/app", ""},
		{"wildcard: exact host wins", []string{"*.example.com", "reg.example.com"}, "reg.example.com/app", "reg.example.com"},
		{"wildcard: exact host wins, other order", []string{"reg.example.com", "*.example.com"}, "reg.example.com/app", "reg.example.com"},
		{"wildcard answers other hosts", []string{"*.example.com", "reg.example.com"}, "other.example.com/app", "*.example.com"},
		{"wildcard: inner label", []string{"reg.*.example.com"}, "reg.eu.example.com/app", "reg.*.example.com"},
		{"wildcard: partial label", []string{"reg-*.example.com"}, "reg-eu.example.com/app", "reg-*.example.com"},

		// Nothing.
		{"no match is anonymous", []string{"reg.example.com", "ghcr.io/org"}, "quay.io/org/app", ""},
	}
	for _, p := range parsers {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				auths := map[string]map[string]string{}
				for _, k := range tt.keys {
					auths[k] = map[string]string{"username": k, "password": "pw-of-" + k}
				}
				kc, err := p.parse(p.build(t, auths))
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				got := resolveCfg(t, kc, repo(t, tt.repo))
				switch {
				case tt.want == "" && got != nil:
					t.Errorf("%s resolved to the entry of %q, want anonymous", tt.repo, got.Username)
				case tt.want != "" && got == nil:
					t.Errorf("%s resolved to anonymous, want the entry of %q", tt.repo, tt.want)
				case tt.want != "" && (got.Username != tt.want || got.Password != "pw-of-"+tt.want):
					t.Errorf("%s resolved to the entry of %q, want %q", tt.repo, got.Username, tt.want)
				}
			})
		}
	}
}

// TestKeychainAnonymousIsTheSingleton checks that no match returns authn.Anonymous
// itself, which Sources and go-containerregistry compare against.
func TestKeychainAnonymousIsTheSingleton(t *testing.T) {
	kc, err := auth.ParseDockerConfigJSON([]byte(`{"auths":{"reg.example.com":{"auth":"` + b64("a:b") + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(repo(t, "ghcr.io/org/app"))
	if err != nil {
		t.Fatal(err)
	}
	if a != authn.Anonymous {
		t.Errorf("Resolve = %#v, want authn.Anonymous", a)
	}
	// A registry resource (no repository) resolves by host.
	reg, err := name.NewRegistry("reg.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := resolveCfg(t, kc, reg); got == nil || got.Username != "a" {
		t.Errorf("registry resource resolved to %+v, want user a", got)
	}
}

func TestParseErrors(t *testing.T) {
	type want struct{ json, cfg string } // the error of each parser; "" means none
	both := func(s string) want { return want{s, s} }
	tests := []struct {
		name string
		// auths is the "auths" object: wrapped in {"auths": ...} for
		// ParseDockerConfigJSON, as is for ParseDockerCfg. doc, when set, is
		// the whole document for both.
		auths, doc string
		want       want
	}{
		{"invalid JSON", `{"reg.example.com": {"password": "` + secretPW + `"`, "", both("not valid JSON")},
		{"invalid JSON after the password", `{"reg.example.com": {"password": "` + secretPW + `" "auth": "` + secretAuth + `"}}`, "", both("not valid JSON")},
		{"wrong type of a password", `{"reg.example.com": {"username": "` + secretUser + `", "password": 12345678}}`, "", both("not valid JSON")},
		{"wrong type of an auth", `{"reg.example.com": {"auth": 987654321}}`, "", both("not valid JSON")},
		{"auths is an array", `["` + secretAuth + `"]`, "", both("not valid JSON")},
		{"an entry is a string", `{"reg.example.com": "` + secretAuth + `"}`, "", both("not valid JSON")},
		{"not an object", "", `"` + secretAuth + `"`, both("not valid JSON")},
		{"empty input", "", " ", both("not valid JSON")},
		{"missing auths", "", `{"reg.example.com": {"auth": "` + secretAuth + `"}}`, want{`no "auths" object`, ""}},
		{"null auths", "", `{"auths": null}`, want{`no "auths" object`, "has no auth"}},
		{"null", "", `null`, want{`no "auths" object`, ""}},
		{"bad base64", `{"reg.example.com": {"auth": "` + secretPW + `!!"}}`, "", both("is not base64")},
		{"bad base64, secret-looking", `{"reg.example.com": {"auth": "` + secretAuth + `*"}}`, "", both("is not base64")},
		{"base64 without a colon", `{"reg.example.com": {"auth": "` + b64(secretPW) + `"}}`, "", both("is not base64 of username:password")},
		{"base64 with an empty username", `{"reg.example.com": {"auth": "` + b64(":"+secretPW) + `"}}`, "", both("is not base64 of username:password")},
		{"empty entry", `{"reg.example.com": {}}`, "", both("has no auth, username, password or token")},
		{"null entry", `{"reg.example.com": null}`, "", both("has no auth, username, password or token")},
		{"entry with only an email", `{"reg.example.com": {"email": "a@example.com"}}`, "", both("has no auth, username, password or token")},
		{"key with no host", `{"https://": {"password": "` + secretPW + `"}}`, "", both("names no host")},
		{"empty key", `{"": {"password": "` + secretPW + `"}}`, "", both("names no host")},
		{"one bad entry among good ones", `{"a.example.com": {"auth": "` + secretAuth + `"}, "b.example.com": {"auth": "` + b64(secretPW) + `"}}`, "", both("is not base64 of username:password")},
	}
	secrets := []string{secretPW, secretUser, secretAuth, b64(secretPW), b64(":" + secretPW), "12345678", "987654321"}
	for _, tt := range tests {
		check := func(t *testing.T, parse func([]byte) (*auth.Keychain, error), data, want string) {
			t.Helper()
			kc, err := parse([]byte(data))
			if want == "" {
				if err != nil {
					t.Errorf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want one with %q", want)
			}
			if kc != nil {
				t.Errorf("keychain %v returned with error", kc)
			}
			msg := err.Error()
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not contain %q", msg, want)
			}
			for _, s := range secrets {
				if strings.Contains(msg, s) {
					t.Errorf("error %q contains the secret %q", msg, s)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q spans lines", msg)
			}
		}
		jsonData, cfgData := `{"auths": `+tt.auths+`}`, tt.auths
		if tt.doc != "" {
			jsonData, cfgData = tt.doc, tt.doc
		}
		t.Run("dockerconfigjson/"+tt.name, func(t *testing.T) { check(t, auth.ParseDockerConfigJSON, jsonData, tt.want.json) })
		t.Run("dockercfg/"+tt.name, func(t *testing.T) { check(t, auth.ParseDockerCfg, cfgData, tt.want.cfg) })
	}
}

// TestParseErrorNamesTheKey checks that an error says which entry is wrong.
func TestParseErrorNamesTheKey(t *testing.T) {
	_, err := auth.ParseDockerConfigJSON([]byte(`{"auths": {"a.example.com": {"auth": "` + secretAuth + `"}, "b.example.com:5000": {"auth": "%%%"}}}`))
	if err == nil || !strings.Contains(err.Error(), strconv.Quote("b.example.com:5000")) {
		t.Errorf("error = %v, want it to name %q", err, "b.example.com:5000")
	}
}

// fakeKeychain answers with a fixed authenticator, or an error.
type fakeKeychain struct {
	a     authn.Authenticator
	err   error
	calls *[]string
	name  string
}

func (f fakeKeychain) Resolve(authn.Resource) (authn.Authenticator, error) {
	if f.calls != nil {
		*f.calls = append(*f.calls, f.name)
	}
	return f.a, f.err
}

func TestSourcesResolve(t *testing.T) {
	target := repo(t, "reg.example.com/org/app")
	hubOnly, err := auth.ParseDockerConfigJSON([]byte(`{"auths":{"docker.io":{"auth":"` + b64("hub:hubpw") + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	orgKC, err := auth.ParseDockerConfigJSON([]byte(`{"auths":{"reg.example.com/org":{"auth":"` + b64("org:orgpw") + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	hostKC, err := auth.ParseDockerConfigJSON([]byte(`{"auths":{"reg.example.com":{"auth":"` + b64("host:hostpw") + `"}}}`))
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name     string
		sources  auth.Sources
		wantName string
		wantUser string // "" for anonymous
	}{
		{"no sources", nil, auth.Anonymous, ""},
		{"only non-matching sources", auth.Sources{{"secret/hub", hubOnly}}, "anonymous", ""},
		{"first matching source wins", auth.Sources{{"secret/host", hostKC}, {"secret/org", orgKC}}, "secret/host", "host"},
		{"order, not specificity", auth.Sources{{"secret/org", orgKC}, {"secret/host", hostKC}}, "secret/org", "org"},
		{"skips a source without credentials", auth.Sources{{"secret/hub", hubOnly}, {"secret/host", hostKC}}, "secret/host", "host"},
		{"static", auth.Sources{{"secret/hub", hubOnly}, {"flags", auth.Static{Username: "flag", Password: "flagpw"}}, {"secret/host", hostKC}}, "flags", "flag"},
		{"static first", auth.Sources{{"flags", auth.Static{Username: "flag", Password: "flagpw"}}, {"secret/host", hostKC}}, "flags", "flag"},
		{"nil authenticator counts as none", auth.Sources{{"nil", fakeKeychain{}}, {"secret/host", hostKC}}, "secret/host", "host"},
		{"anonymous keychain", auth.Sources{{"anon", fakeKeychain{a: authn.Anonymous}}}, "anonymous", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, src, err := tt.sources.Resolve(target)
			if err != nil {
				t.Fatalf("Resolve: %v", err)
			}
			if src != tt.wantName {
				t.Errorf("source = %q, want %q", src, tt.wantName)
			}
			if tt.wantUser == "" {
				if a != authn.Anonymous {
					t.Errorf("authenticator = %#v, want authn.Anonymous", a)
				}
				return
			}
			cfg, err := a.Authorization()
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Username != tt.wantUser || cfg.Password != tt.wantUser+"pw" {
				t.Errorf("credentials = %s/%s, want %s/%spw", cfg.Username, cfg.Password, tt.wantUser, tt.wantUser)
			}
		})
	}
}

func TestSourcesResolveOrderAndError(t *testing.T) {
	target := repo(t, "reg.example.com/app")
	var calls []string
	boom := errors.New("helper failed")
	srcs := auth.Sources{
		{"first", fakeKeychain{a: authn.Anonymous, calls: &calls, name: "first"}},
		{"second", fakeKeychain{err: boom, calls: &calls, name: "second"}},
		{"third", fakeKeychain{a: &authn.Basic{Username: "x", Password: "y"}, calls: &calls, name: "third"}},
	}
	a, src, err := srcs.Resolve(target)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want it to wrap %v", err, boom)
	}
	if !strings.Contains(err.Error(), "second") {
		t.Errorf("error %q does not name the source", err)
	}
	if a != nil || src != "" {
		t.Errorf("Resolve = %v, %q with an error", a, src)
	}
	if strings.Join(calls, ",") != "first,second" {
		t.Errorf("calls = %v, want first,second", calls)
	}

	calls = nil
	a, src, err = srcs[2:].Resolve(target)
	if err != nil || src != "third" || a == authn.Anonymous {
		t.Errorf("Resolve = %v, %q, %v; want third's", a, src, err)
	}
}

func TestStatic(t *testing.T) {
	s := auth.Static{Username: "u", Password: secretPW}
	for _, r := range []string{"ghcr.io/org/app", "library/nginx", "127.0.0.1:5000/x"} {
		got := resolveCfg(t, s, repo(t, r))
		if got == nil || got.Username != "u" || got.Password != secretPW {
			t.Errorf("Static.Resolve(%s) = %+v", r, got)
		}
	}
}

// FuzzParseDockerConfigJSON checks that parsing never panics and that, for an
// input that is a JSON config, no error message contains a password of it.
func FuzzParseDockerConfigJSON(f *testing.F) {
	f.Add([]byte(`{"auths":{"reg.example.com":{"auth":"` + secretAuth + `"}}}`))
	f.Add([]byte(`{"auths":{"reg.example.com":{"username":"u","password":"` + secretPW + `"}}}`))
	f.Add([]byte(`{"auths":{"reg.example.com":{"password":"` + secretPW + `"}}}`))
	f.Add([]byte(`{"auths":{"https://":{"password":"` + secretPW + `"}}}`))
	f.Add([]byte(`{"auths":{"*.example.com:5000/org":{"auth":"` + b64(secretPW) + `"}}}`))
	f.Add([]byte(`{"auths":{"x":{"password":5}}}`))
	f.Add([]byte(`{"auths":null}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		kc, err := auth.ParseDockerConfigJSON(data)
		if err == nil {
			if kc == nil {
				t.Fatal("nil keychain without an error")
			}
			// Resolving must not panic either.
			for _, r := range []string{"reg.example.com/org/app", "library/nginx", "a.example.com:5000/org/x"} {
				rr, _ := name.NewRepository(r)
				if _, err := kc.Resolve(rr); err != nil {
					t.Errorf("Resolve(%s): %v", r, err)
				}
			}
			return
		}
		if kc != nil {
			t.Error("keychain returned with an error")
		}
		msg := err.Error()

		// Only a config whose entries are objects says what its passwords are.
		var cfg struct {
			Auths map[string]map[string]json.RawMessage `json:"auths"`
		}
		if json.Unmarshal(data, &cfg) != nil {
			return
		}
		for key, entry := range cfg.Auths {
			for field, raw := range entry {
				var v string
				if json.Unmarshal(raw, &v) != nil {
					continue
				}
				var secrets []string
				switch strings.ToLower(field) {
				case "password", "identitytoken", "registrytoken":
					secrets = append(secrets, v)
				case "auth":
					secrets = append(secrets, v, strings.TrimSpace(v))
					if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v)); err == nil {
						_, pass, _ := strings.Cut(string(b), ":")
						secrets = append(secrets, pass)
					}
				}
				for _, s := range secrets {
					if leaks(msg, s, cfg.Auths) {
						t.Fatalf("error %q contains the %s of %q: %q", msg, field, key, s)
					}
				}
			}
		}
	})
}

// leaks reports whether msg contains the secret s. Short secrets, and secrets
// that are part of a key (keys are named in messages) or of the messages' own
// words, cannot be told apart from them and are not counted.
func leaks(msg, s string, auths map[string]map[string]json.RawMessage) bool {
	if len(s) < 6 || !strings.Contains(msg, s) {
		return false
	}
	for key := range auths {
		if strings.Contains(key, s) || strings.Contains(strconv.Quote(key), s) {
			return false
		}
	}
	// The message without its quoted keys must still contain s.
	rest := msg
	for key := range auths {
		rest = strings.ReplaceAll(rest, strconv.Quote(key), "\x00")
	}
	if !strings.Contains(rest, s) {
		return false
	}
	const words = `not valid JSON: syntax error at byte malformed must be string number bool array object ` +
		`no "auths" object registry key names no host the auth of is not base64 of username:password ` +
		`the entry of has no auth, username, password or token at "auths.`
	return !strings.Contains(words, s)
}

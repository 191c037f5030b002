package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/imageconfig/imageconfig-operator/internal/testregistry"
	"github.com/imageconfig/imageconfig-operator/internal/testregistry/refregistry"
)

const (
	aliceUser = "alice"
	alicePass = "alice-pw-7f3a"
	wrongPass = "wrong-pw-Q9zK2"
)

// isolatedEnv is the environment of the child: the test's, with HOME,
// DOCKER_CONFIG and the other places go-containerregistry's default keychain
// reads (Podman's auth files) pointed at empty temporary directories, so the
// machine's own credentials never take part.
func isolatedEnv(t *testing.T) []string {
	t.Helper()
	home := t.TempDir()
	dockerConfig := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "HOME", "DOCKER_CONFIG", "REGISTRY_AUTH_FILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"DOCKER_CONFIG="+dockerConfig,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_RUNTIME_DIR="+filepath.Join(home, "run"),
	)
}

// imageconfigStdin runs the built binary with stdin and the isolated environment.
func imageconfigStdin(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return runBinary(t, isolatedEnv(t), stdin, args...)
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// dockerConfigDir writes a docker config.json with one auths entry and returns
// its directory and file.
func dockerConfigDir(t *testing.T, key, user, pass string) (dir, file string) {
	t.Helper()
	dir = t.TempDir()
	b, err := json.Marshal(map[string]any{"auths": map[string]any{
		key: map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte(user + ":" + pass))},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return dir, writeFile(t, dir, "config.json", b)
}

// stderrLine returns the single line of stderr, failing when there are more.
func stderrLine(t *testing.T, r result) string {
	t.Helper()
	s := strings.TrimSuffix(r.stderr, "\n")
	if s == "" || strings.Contains(s, "\n") {
		t.Errorf("stderr is not one line: %q", r.stderr)
	}
	if !strings.HasPrefix(s, "imageconfig: ") {
		t.Errorf("stderr does not start with \"imageconfig: \": %q", r.stderr)
	}
	return s
}

func TestCredentials(t *testing.T) {
	reg := refregistry.Start(t, refregistry.Options{
		Mode:  refregistry.TokenAuth,
		TLS:   true,
		Users: map[string]string{aliceUser: alicePass},
	})
	idx, images := testregistry.MultiArch(t)
	reg.Push(t, "public/app", "1", idx)
	reg.Push(t, "private/app", "1", idx)
	caFile := writeFile(t, t.TempDir(), "ca.pem", reg.CAPEM())
	public := reg.Host() + "/public/app:1"
	private := reg.Host() + "/private/app:1"
	amd64Config, err := images["linux/amd64"].RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	aliceDir, aliceFile := dockerConfigDir(t, reg.Host(), aliceUser, alicePass)
	wrongDir, _ := dockerConfigDir(t, reg.Host(), aliceUser, wrongPass)
	emptyDir := t.TempDir()

	ok := []struct {
		name  string
		stdin string
		args  []string
	}{
		{"public, anonymous", "", []string{"config", public, "--ca-file", caFile, "--docker-config", emptyDir}},
		{"public, anonymous, default docker config", "", []string{"config", public, "--ca-file", caFile}},
		{"private, --username and --password-stdin", alicePass + "\n", []string{"config", private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin"}},
		{"private, --password-stdin with CRLF", alicePass + "\r\n", []string{"config", "--username=" + aliceUser, "--password-stdin", "--ca-file=" + caFile, private}},
		{"private, --password-stdin without a newline", alicePass, []string{"config", private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin"}},
		{"private, --docker-config directory", "", []string{"config", private, "--ca-file", caFile, "--docker-config", aliceDir}},
		{"private, --docker-config file", "", []string{"config", private, "--ca-file", caFile, "--docker-config", aliceFile}},
		{"private, flags win over a wrong docker config", alicePass + "\n", []string{"config", private, "--ca-file", caFile, "--docker-config", wrongDir, "--username", aliceUser, "--password-stdin"}},
	}
	for _, tt := range ok {
		t.Run(tt.name, func(t *testing.T) {
			r := imageconfigStdin(t, tt.stdin, tt.args...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0; stderr: %s", r.code, r.stderr)
			}
			if diff := jsonDiff(t, amd64Config, []byte(r.stdout)); diff != "" {
				t.Errorf("output is not linux/amd64's config (-want +got):\n%s", diff)
			}
			if strings.Contains(r.stdout+r.stderr, alicePass) {
				t.Error("the password appears in the output")
			}
		})
	}

	t.Run("private, other commands with credentials", func(t *testing.T) {
		for _, cmd := range []string{"summary", "platforms", "digest"} {
			r := imageconfigStdin(t, alicePass+"\n", cmd, private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin")
			if r.code != 0 || r.stdout == "" {
				t.Errorf("%s: exit %d, stdout %q; stderr: %s", cmd, r.code, r.stdout, r.stderr)
			}
		}
	})

	t.Run("private, wrong password via stdin", func(t *testing.T) {
		reg.Log().Reset()
		r := imageconfigStdin(t, wrongPass+"\n", "config", private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin", "--docker-config", emptyDir)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		if line := stderrLine(t, r); !strings.Contains(line, "Unauthorized") {
			t.Errorf("stderr = %q, want Unauthorized", line)
		}
		if r.stdout != "" {
			t.Errorf("stdout is not empty: %q", r.stdout)
		}
		if strings.Contains(r.stdout+r.stderr, wrongPass) {
			t.Errorf("the wrong password appears in the output: %q", r.stderr)
		}
		if b64 := base64.StdEncoding.EncodeToString([]byte(aliceUser + ":" + wrongPass)); strings.Contains(r.stderr, b64) {
			t.Errorf("the encoded credentials appear in the output: %q", r.stderr)
		}
		tokens := reg.Log().CountPrefix("", "/token")
		registry := reg.Log().CountPrefix("", "/v2/")
		if tokens > 2 || registry > 3 {
			t.Errorf("%d token and %d registry requests, want at most 2 and 3:\n%s", tokens, registry, reg.Log())
		}
		if tokens == 0 {
			t.Errorf("no token request:\n%s", reg.Log())
		}
	})

	t.Run("private, wrong password in the docker config", func(t *testing.T) {
		r := imageconfigStdin(t, "", "config", private, "--ca-file", caFile, "--docker-config", wrongDir)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		if line := stderrLine(t, r); !strings.Contains(line, "Unauthorized") || strings.Contains(line, wrongPass) {
			t.Errorf("stderr = %q, want Unauthorized without the password", line)
		}
	})

	t.Run("malformed docker config", func(t *testing.T) {
		const secret = "Secret-Pw-Of-A-Bad-Config"
		for _, cfg := range []string{
			`{"auths":{"` + reg.Host() + `":{"auth":"` + secret + `!!"}}}`,
			`{"auths":{"` + reg.Host() + `":{"auth":"` + base64.StdEncoding.EncodeToString([]byte(secret)) + `"}}}`,
			`{"auths":{"` + reg.Host() + `":{"username":"alice","password":"` + secret,
		} {
			dir := t.TempDir()
			writeFile(t, dir, "config.json", []byte(cfg))
			// Refused before the registry is contacted, like any other bad flag.
			r := imageconfigStdin(t, "", "config", private, "--ca-file", caFile, "--docker-config", dir)
			if r.code != 2 {
				t.Errorf("%s: exit %d, want 2; stderr: %s", cfg, r.code, r.stderr)
				continue
			}
			line := stderrLine(t, r)
			if !strings.Contains(line, "config") {
				t.Errorf("stderr = %q, want it to name the docker config", line)
			}
			if strings.Contains(r.stdout+r.stderr, secret) || strings.Contains(r.stderr, base64.StdEncoding.EncodeToString([]byte(secret))) {
				t.Errorf("the secret appears in the output: %q", r.stderr)
			}
		}
	})

	noCreds := []struct {
		name string
		args []string
	}{
		{"private, no credentials, empty --docker-config", []string{"config", private, "--ca-file", caFile, "--docker-config", emptyDir}},
		{"private, no credentials, default docker config", []string{"config", private, "--ca-file", caFile}},
		{"private, docker config for another registry", []string{"config", private, "--ca-file", caFile, "--docker-config", func() string {
			d, _ := dockerConfigDir(t, "other.example.com", aliceUser, alicePass)
			return d
		}()}},
	}
	for _, tt := range noCreds {
		t.Run(tt.name, func(t *testing.T) {
			r := imageconfigStdin(t, "", tt.args...)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
			}
			if line := stderrLine(t, r); !strings.Contains(line, "Unauthorized") {
				t.Errorf("stderr = %q, want Unauthorized", line)
			}
		})
	}

	t.Run("TLS registry without --ca-file", func(t *testing.T) {
		r := imageconfigStdin(t, "", "config", public, "--docker-config", emptyDir)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		line := stderrLine(t, r)
		if !strings.Contains(line, reg.Host()) || !strings.Contains(line, "certificate") {
			t.Errorf("stderr = %q, want the host %s and the certificate", line, reg.Host())
		}
	})

	t.Run("another CA in --ca-file", func(t *testing.T) {
		other := refregistry.Start(t, refregistry.Options{Mode: refregistry.HtpasswdTLS})
		otherCA := writeFile(t, t.TempDir(), "other-ca.pem", other.CAPEM())
		r := imageconfigStdin(t, "", "config", public, "--ca-file", otherCA, "--docker-config", emptyDir)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		if line := stderrLine(t, r); !strings.Contains(line, reg.Host()) || !strings.Contains(line, "certificate") {
			t.Errorf("stderr = %q, want the host and the certificate", line)
		}
	})

	usage := []struct {
		name  string
		stdin string
		args  []string
		want  string
	}{
		{"--username without --password-stdin", "", []string{"config", private, "--ca-file", caFile, "--username", aliceUser}, "--password-stdin"},
		{"--password-stdin without --username", alicePass + "\n", []string{"config", private, "--ca-file", caFile, "--password-stdin"}, "--username"},
		{"--password-stdin with empty stdin", "", []string{"config", private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin"}, "empty"},
		{"--password-stdin with only a newline", "\n", []string{"config", private, "--ca-file", caFile, "--username", aliceUser, "--password-stdin"}, "empty"},
		{"--ca-file that does not exist", "", []string{"config", public, "--ca-file", filepath.Join(emptyDir, "nope.pem")}, "--ca-file"},
		{"--ca-file that is not PEM", "", []string{"config", public, "--ca-file", writeFile(t, t.TempDir(), "bad.pem", []byte("not a certificate"))}, "--ca-file"},
		{"--docker-config that does not exist", "", []string{"config", public, "--ca-file", caFile, "--docker-config", filepath.Join(emptyDir, "nope")}, "--docker-config"},
		// Before the fix, DIR/creds.json made the CLI read DIR/config.json instead.
		{"--docker-config file not named config.json", "", []string{"config", private, "--ca-file", caFile, "--docker-config", func() string {
			_, f := dockerConfigDir(t, reg.Host(), aliceUser, alicePass)
			renamed := filepath.Join(filepath.Dir(f), "creds.json")
			if err := os.Rename(f, renamed); err != nil {
				t.Fatal(err)
			}
			return renamed
		}()}, "config.json"},
	}
	for _, tt := range usage {
		t.Run(tt.name, func(t *testing.T) {
			reg.Log().Reset()
			r := imageconfigStdin(t, tt.stdin, tt.args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2; stderr: %s", r.code, r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout is not empty: %q", r.stdout)
			}
			last := strings.TrimSpace(r.stderr)
			if i := strings.LastIndex(last, "\n"); i >= 0 {
				last = last[i+1:]
			}
			if !strings.HasPrefix(last, "imageconfig: ") || !strings.Contains(last, tt.want) {
				t.Errorf("stderr = %q, want a last line with %q", r.stderr, tt.want)
			}
			if strings.Contains(r.stderr, alicePass) {
				t.Error("the password appears in the output")
			}
			if n := len(reg.Log().Requests()); n != 0 {
				t.Errorf("a usage error made %d requests:\n%s", n, reg.Log())
			}
		})
	}
}

func TestCredentialsHtpasswd(t *testing.T) {
	reg := refregistry.Start(t, refregistry.Options{
		Mode:  refregistry.HtpasswdTLS,
		Users: map[string]string{aliceUser: alicePass},
	})
	idx, images := testregistry.MultiArch(t)
	reg.Push(t, "private/app", "1", idx)
	caFile := writeFile(t, t.TempDir(), "ca.pem", reg.CAPEM())
	ref := reg.Host() + "/private/app:1"
	want, err := images["linux/arm64/v8"].RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("--username and --password-stdin", func(t *testing.T) {
		r := imageconfigStdin(t, alicePass+"\n", "config", ref, "--ca-file", caFile, "--username", aliceUser, "--password-stdin", "--platform", "linux/arm64")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", r.code, r.stderr)
		}
		if diff := jsonDiff(t, want, []byte(r.stdout)); diff != "" {
			t.Errorf("output is not linux/arm64's config (-want +got):\n%s", diff)
		}
	})

	t.Run("--docker-config", func(t *testing.T) {
		dir, _ := dockerConfigDir(t, "https://"+reg.Host()+"/v2/", aliceUser, alicePass)
		r := imageconfigStdin(t, "", "config", ref, "--ca-file", caFile, "--docker-config", dir, "--platform", "linux/arm64")
		if r.code != 0 {
			t.Fatalf("exit %d, want 0; stderr: %s", r.code, r.stderr)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		reg.Log().Reset()
		r := imageconfigStdin(t, wrongPass+"\n", "config", ref, "--ca-file", caFile, "--username", aliceUser, "--password-stdin")
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		if line := stderrLine(t, r); !strings.Contains(line, "Unauthorized") || strings.Contains(line, wrongPass) {
			t.Errorf("stderr = %q, want Unauthorized without the password", line)
		}
		if n := reg.Log().CountPrefix("", "/v2/"); n > 3 {
			t.Errorf("%d registry requests, want at most 3:\n%s", n, reg.Log())
		}
	})

	t.Run("no credentials", func(t *testing.T) {
		r := imageconfigStdin(t, "", "config", ref, "--ca-file", caFile)
		if r.code != 1 {
			t.Fatalf("exit %d, want 1; stderr: %s", r.code, r.stderr)
		}
		if line := stderrLine(t, r); !strings.Contains(line, "Unauthorized") {
			t.Errorf("stderr = %q, want Unauthorized", line)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

const usage = `Usage: imageconfig COMMAND REF [flags]

Print a container image's config, resolved through the registry's manifest chain.

Commands:
  config      the config blob's JSON for the platform, indented by 2 spaces
  summary     the summary as JSON, with the field names of ImageConfig.status
  platforms   one line per index entry: os/arch[/variant] digest size
  digest      the digest the tag points to; with --platform, the platform manifest's

Credentials come from --username with --password-stdin, then from the docker
config (--docker-config, with its credential helpers), then anonymous access.

REF is a Docker-style reference: nginx, nginx:1.27, ghcr.io/org/app:v1,
localhost:5000/x@sha256:...

Flags:
`

// Exit codes.
const (
	exitOK       = 0
	exitRegistry = 1
	exitUsage    = 2
)

// usageError is a bad command line.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

type cli struct {
	command     string
	ref         string
	registry    string
	platform    string
	platformSet bool
	insecure    bool
	timeout     time.Duration

	username      string
	passwordStdin bool
	dockerConfig  string
	caFile        string

	deniedNetworks string
}

func parseArgs(args []string, stderr io.Writer) (*cli, error) {
	c := &cli{}
	fs := flag.NewFlagSet("imageconfig", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.registry, "registry", manifests.DefaultRegistry, "registry for a REF that names none")
	fs.StringVar(&c.platform, "platform", "linux/amd64", "platform as os/arch[/variant]")
	fs.BoolVar(&c.insecure, "insecure", false, "allow plain HTTP to the registry")
	fs.DurationVar(&c.timeout, "timeout", manifests.DefaultTimeout, "bound on the whole resolution")
	fs.StringVar(&c.username, "username", "", "username for the registry; the password is read with --password-stdin")
	fs.BoolVar(&c.passwordStdin, "password-stdin", false, "read the registry password from standard input")
	fs.StringVar(&c.dockerConfig, "docker-config", "", "docker config directory or config.json with credentials and credential helpers (default ~/.docker/config.json)")
	fs.StringVar(&c.caFile, "ca-file", "", "PEM file of a CA to trust for the registry, besides the system's")
	fs.StringVar(&c.deniedNetworks, "denied-networks", "", "comma-separated CIDRs never to connect to, checked after DNS, as the manager's flag (for example "+netpolicy.DefaultDeniedNetworks+")")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}

	// Flags may come before or after the positional arguments.
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, &usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "platform" {
			c.platformSet = true
		}
	})
	if len(positional) != 2 {
		fs.Usage()
		return nil, &usageError{"want a command and one REF"}
	}
	c.command, c.ref = positional[0], positional[1]
	switch c.command {
	case "config", "summary", "platforms", "digest":
	default:
		fs.Usage()
		return nil, &usageError{fmt.Sprintf("unknown command %q", c.command)}
	}
	if c.timeout <= 0 {
		return nil, &usageError{"--timeout must be positive"}
	}
	if (c.username != "") != c.passwordStdin {
		return nil, &usageError{"--username and --password-stdin go together"}
	}
	return c, nil
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	c, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "imageconfig: %v\n", err)
		return exitUsage
	}
	opts, err := c.options(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "imageconfig: %v\n", err)
		return exitUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	out, err := c.execute(ctx, opts)
	if err != nil {
		var e *manifests.Error
		if !errors.As(err, &e) {
			fmt.Fprintf(stderr, "imageconfig: %s\n", oneLine(err.Error()))
			return exitRegistry
		}
		fmt.Fprintf(stderr, "imageconfig: %s: %s\n", e.Reason, oneLine(e.Error()))
		return exitRegistry
	}
	_, _ = stdout.Write(out)
	return exitOK
}

func (c *cli) options(stdin io.Reader) (manifests.Options, error) {
	opts, err := manifests.ParseReference(c.ref, c.registry)
	if err != nil {
		return opts, err
	}
	p, err := platforms.Parse(c.platform)
	if err != nil {
		return opts, fmt.Errorf("--platform: %w", err)
	}
	opts.Platform = p
	if err := manifests.CheckReference(opts); err != nil {
		return opts, err
	}
	opts.Insecure = c.insecure
	opts.Timeout = c.timeout
	opts.UserAgent = "imageconfig"
	if opts.Network, err = netpolicy.Parse("", c.deniedNetworks); err != nil {
		return opts, err
	}

	if c.passwordStdin {
		b, err := io.ReadAll(io.LimitReader(stdin, 1<<20))
		if err != nil {
			return opts, fmt.Errorf("--password-stdin: %w", err)
		}
		pass := strings.TrimRight(string(b), "\r\n")
		if pass == "" {
			return opts, errors.New("--password-stdin: standard input is empty")
		}
		opts.Credentials = append(opts.Credentials, auth.Source{Name: "flags", Keychain: auth.Static{Username: c.username, Password: pass}})
	}
	docker, err := dockerSources(c.dockerConfig)
	if err != nil {
		return opts, err
	}
	opts.Credentials = append(opts.Credentials, docker...)

	if c.caFile != "" {
		ca, err := os.ReadFile(c.caFile)
		if err != nil {
			return opts, fmt.Errorf("--ca-file: %w", err)
		}
		cfg, err := auth.TLSConfig(ca, nil, nil)
		if err != nil {
			return opts, fmt.Errorf("--ca-file %s: %w", c.caFile, err)
		}
		opts.Transport = auth.Transport(cfg)
	}
	return opts, nil
}

// dockerSources reads a docker config directory (or its config.json) the way the
// controller reads a pull Secret, with finders/auth, and then offers go-containerregistry's
// default keychain for what only it can do: credential helpers and credsStore.
// Empty means $DOCKER_CONFIG, or ~/.docker.
func dockerSources(path string) (auth.Sources, error) {
	dir := path
	if dir == "" {
		dir = os.Getenv("DOCKER_CONFIG")
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return auth.Sources{{Name: "docker-config", Keychain: authn.DefaultKeychain}}, nil
		}
		dir = filepath.Join(home, ".docker")
	}
	if path != "" {
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--docker-config: %w", err)
		}
		if !fi.IsDir() {
			// The helpers' keychain reads DIR/config.json: any other file name would be
			// silently ignored, or another file read in its place.
			if filepath.Base(path) != "config.json" {
				return nil, fmt.Errorf("--docker-config: %s is neither a directory nor a file named config.json", path)
			}
			dir = filepath.Dir(path)
		}
	}
	var sources auth.Sources
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	switch {
	case err == nil:
		kc, err := auth.ParseDockerConfigFile(data)
		if err != nil {
			return nil, fmt.Errorf("--docker-config: %s: %w", filepath.Join(dir, "config.json"), err)
		}
		sources = append(sources, auth.Source{Name: "docker-config", Keychain: kc})
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("--docker-config: %w", err)
	}
	// go-containerregistry's default keychain reads DOCKER_CONFIG; this process
	// exists for one command, so setting it is the simplest faithful way.
	if err := os.Setenv("DOCKER_CONFIG", dir); err != nil {
		return nil, err
	}
	return append(sources, auth.Source{Name: "docker-config", Keychain: authn.DefaultKeychain}), nil
}

func (c *cli) execute(ctx context.Context, opts manifests.Options) ([]byte, error) {
	switch c.command {
	case "digest":
		if !c.platformSet {
			d, _, err := manifests.Digest(ctx, opts)
			return []byte(d + "\n"), err
		}
		d, err := manifests.PlatformDigest(ctx, opts)
		return []byte(d + "\n"), err
	case "platforms":
		entries, err := manifests.Platforms(ctx, opts)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		for _, e := range entries {
			b.WriteString(e.String())
			b.WriteByte('\n')
		}
		return b.Bytes(), nil
	}

	res, err := manifests.Resolve(ctx, opts)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if c.command == "config" {
		if err := json.Indent(&b, res.RawConfig, "", "  "); err != nil {
			return nil, fmt.Errorf("config blob is not valid JSON: %w", err)
		}
		b.WriteByte('\n')
		return b.Bytes(), nil
	}
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res.Summary); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imageconfig/imageconfig-operator/finders/auth"
	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/platforms"
)

// options turns one REF and platform, with the registry flags, into the finders' options.
// The password is read from standard input once, however many REFs a command takes.
func (a *app) options(ref, platform string) (manifests.Options, error) {
	opts, err := manifests.ParseReference(ref, a.registry)
	if err != nil {
		return opts, err
	}
	p, err := platforms.Parse(platform)
	if err != nil {
		return opts, fmt.Errorf("--platform: %w", err)
	}
	opts.Platform = p
	if err := manifests.CheckReference(opts); err != nil {
		return opts, err
	}
	opts.Network.Insecure = a.insecure
	opts.Network.Timeout = a.timeout
	opts.Network.UserAgent = "imageconfig/" + version()
	opts.Network.Policy = a.network

	if p, _ := cloudauth.ParseProvider(a.provider); p != cloudauth.Generic {
		src, err := a.providerSource(p, opts)
		if err != nil {
			return opts, err
		}
		opts.Auth.Sources = append(opts.Auth.Sources, src)
	}
	if a.passwordStdin {
		if a.password == "" {
			b, err := io.ReadAll(io.LimitReader(a.stdin, 1<<20))
			if err != nil {
				return opts, fmt.Errorf("--password-stdin: %w", err)
			}
			a.password = strings.TrimRight(string(b), "\r\n")
			if a.password == "" {
				return opts, errors.New("--password-stdin: standard input is empty")
			}
		}
		opts.Auth.Sources = append(opts.Auth.Sources, auth.Source{Name: "flags", Keychain: auth.Static{Username: a.username, Password: a.password}})
	}
	docker, err := dockerSources(a.dockerConfig)
	if err != nil {
		return opts, err
	}
	opts.Auth.Sources = append(opts.Auth.Sources, docker...)

	if a.caFile != "" {
		ca, err := os.ReadFile(a.caFile)
		if err != nil {
			return opts, fmt.Errorf("--ca-file: %w", err)
		}
		cfg, err := auth.TLSConfig(ca, nil, nil)
		if err != nil {
			return opts, fmt.Errorf("--ca-file %s: %w", a.caFile, err)
		}
		opts.Network.Transport = auth.Transport(cfg)
	}
	return opts, nil
}

// providerSource exchanges this machine's workload identity for the registry's
// credentials (controller-level identity, in the operator's words).
func (a *app) providerSource(p cloudauth.Provider, opts manifests.Options) (auth.Source, error) {
	if a.broker == nil {
		a.broker = cloudauth.NewBroker(cloudauth.Options{})
	}
	ctx, cancel := context.WithTimeout(context.Background(), opts.Network.Timeout)
	defer cancel()
	c, err := a.broker.Credentials(ctx, p, opts.Registry, cloudauth.Identity{})
	if err != nil {
		err = fmt.Errorf("--provider %s: %w", p, err)
		var ex *cloudauth.ExchangeError
		var cs *cloudauth.ClockSkewError
		if errors.As(err, &ex) || errors.As(err, &cs) {
			// The provider failed or refused: like a registry error, not a usage error.
			return auth.Source{}, &registryError{err}
		}
		return auth.Source{}, err
	}
	return auth.Source{Name: c.Source, Keychain: auth.Static{Username: c.Username, Password: c.Password}}, nil
}

// optionsError classifies an error of options: a usage error, unless the
// provider's exchange failed.
func optionsError(err error) error {
	var re *registryError
	if errors.As(err, &re) {
		return err
	}
	return &usageError{err.Error()}
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

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/imageconfig/imageconfig-operator/finders/cloudauth"
	"github.com/imageconfig/imageconfig-operator/finders/manifests"
	"github.com/imageconfig/imageconfig-operator/finders/netpolicy"
)

// Exit codes.
const (
	exitOK       = 0
	exitRegistry = 1
	exitUsage    = 2
)

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// registryError is a failure after the command line was accepted: exit code 1.
type registryError struct{ err error }

func (e *registryError) Error() string { return e.err.Error() }
func (e *registryError) Unwrap() error { return e.err }

// app holds the flags shared by the registry commands and the process's streams.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	registry      string
	platform      string
	insecure      bool
	timeout       time.Duration
	username      string
	passwordStdin bool
	password      string
	dockerConfig  string
	caFile        string
	provider      string
	broker        *cloudauth.Broker

	deniedNetworks string
	network        *netpolicy.Policy
}

// commands are the constructors of the subcommands. A file adds its own with
// addCommand in an init function, so that new commands need no edit here.
var commands []func(*app) *cobra.Command

// addCommand registers a subcommand constructor for newRootCommand.
func addCommand(f func(*app) *cobra.Command) { commands = append(commands, f) }

// newRootCommand builds the imageconfig command with every registered subcommand.
func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "imageconfig",
		Short: "Print a container image's config, resolved through the registry's manifest chain",
		Long: `imageconfig resolves an image reference through the registry's manifest chain
(tag, index, platform manifest, config blob) and prints what it found.

Credentials come from --provider (the workload identity of the machine or pod:
AWS web identity or EKS Pod Identity, the GCE metadata server, Azure workload
identity), then --username with --password-stdin, then from the docker config
(--docker-config, with its credential helpers), then anonymous access.

REF is a Docker-style reference: nginx, nginx:1.27, ghcr.io/org/app:v1,
localhost:5000/x@sha256:...

Exit codes: 0 on success, 1 on a registry error, 2 on a usage error.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		// Runnable, so that a bare "imageconfig" is a usage error rather than help with exit 0.
		RunE: func(cmd *cobra.Command, args []string) error {
			return &usageError{"want a command"}
		},
	}
	root.SetIn(a.stdin)
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err.Error()}
	})
	root.AddCommand(newVersionCommand(a))
	for _, f := range commands {
		root.AddCommand(f(a))
	}
	root.InitDefaultCompletionCmd()
	for _, c := range root.Commands() {
		if c.Name() == "completion" {
			c.Example = "  source <(imageconfig completion bash)\n  imageconfig completion zsh > \"${fpath[1]}/_imageconfig\""
		}
	}
	return root
}

// addRegistryFlags adds the flags of every command that talks to a registry.
func (a *app) addRegistryFlags(fs *pflag.FlagSet) {
	fs.StringVar(&a.registry, "registry", manifests.DefaultRegistry, "registry for a REF that names none")
	fs.StringVar(&a.platform, "platform", "linux/amd64", "platform as os/arch[/variant]")
	fs.BoolVar(&a.insecure, "insecure", false, "allow plain HTTP to the registry")
	fs.DurationVar(&a.timeout, "timeout", manifests.DefaultTimeout, "bound on the whole resolution")
	fs.StringVar(&a.username, "username", "", "username for the registry; the password is read with --password-stdin")
	fs.BoolVar(&a.passwordStdin, "password-stdin", false, "read the registry password from standard input")
	fs.StringVar(&a.dockerConfig, "docker-config", "", "docker config directory or config.json with credentials and credential helpers (default ~/.docker/config.json)")
	fs.StringVar(&a.provider, "provider", "generic", "generic, or a cloud whose registry credentials come from this machine's workload identity: aws, gcp or azure (tried before the other credentials)")
	fs.StringVar(&a.caFile, "ca-file", "", "PEM file of a CA to trust for the registry, besides the system's")
	fs.StringVar(&a.deniedNetworks, "denied-networks", "", "comma-separated CIDRs never to connect to, checked after DNS, as the manager's flag (for example "+netpolicy.DefaultDeniedNetworks+")")
}

// checkFlags validates the registry flags together.
func (a *app) checkFlags() error {
	if a.timeout <= 0 {
		return &usageError{"--timeout must be positive"}
	}
	if (a.username != "") != a.passwordStdin {
		return &usageError{"--username and --password-stdin go together"}
	}
	if _, err := cloudauth.ParseProvider(a.provider); err != nil {
		return &usageError{"--provider: " + err.Error()}
	}
	network, err := netpolicy.Parse("", a.deniedNetworks)
	if err != nil {
		return &usageError{err.Error()}
	}
	a.network = network
	return nil
}

// exactRefs accepts exactly n REF arguments, as a usage error otherwise.
func exactRefs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		if n == 0 {
			return &usageError{fmt.Sprintf("takes no arguments, got %s", strings.Join(args, " "))}
		}
		want := "one REF"
		if n == 2 {
			want = "two REFs"
		}
		if len(args) == 0 {
			return &usageError{fmt.Sprintf("want %s", want)}
		}
		return &usageError{fmt.Sprintf("want %s, got %d arguments: %s", want, len(args), strings.Join(args, " "))}
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := newRootCommand(a)
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var re *registryError
	if errors.As(err, &re) {
		fmt.Fprintf(stderr, "imageconfig: %s\n", errorLine(err))
		return exitRegistry
	}
	if cmd == nil {
		cmd = root
	}
	fmt.Fprintf(stderr, "imageconfig: %s (see '%s --help')\n", errorLine(err), cmd.CommandPath())
	return exitUsage
}

// version is the module version of this build, or "devel".
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

func newVersionCommand(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version of imageconfig",
		Example: "  imageconfig version",
		Args:    exactRefs(0),
		RunE: func(cmd *cobra.Command, args []string) error {
			v := version()
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, s := range bi.Settings {
					if s.Key == "vcs.revision" {
						v += " " + s.Value
					}
				}
				v += " " + bi.GoVersion
			}
			_, err := fmt.Fprintln(a.stdout, "imageconfig", v)
			return err
		},
	}
}

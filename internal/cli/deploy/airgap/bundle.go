package airgap

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/MakeNowJust/heredoc/v2"
	"github.com/spf13/cobra"

	"github.com/tars-ops/tarsctl/docs"
	"github.com/tars-ops/tarsctl/internal/atomicfile"
	"github.com/tars-ops/tarsctl/internal/build"
	"github.com/tars-ops/tarsctl/internal/cmdutil"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/deploy/airgap"
	"github.com/tars-ops/tarsctl/internal/deploy/chart"
	"github.com/tars-ops/tarsctl/internal/deploy/compose"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
	"github.com/tars-ops/tarsctl/internal/iostreams"
	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/sbom"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/ui"
)

// packageChart packages the embedded Helm chart into the bundle.
var packageChart airgap.ChartFunc = chart.Package

// BundleOptions are the inputs of `tarsctl deploy airgap bundle`.
type BundleOptions struct {
	IO     *iostreams.IOStreams
	Config func() (*config.Config, error)
	Getenv func(string) string
	Now    func() time.Time
	// Executable is the running binary, the default for its own platform.
	Executable func() (string, error)
	Chart      airgap.ChartFunc

	Version    string
	File       string
	Binaries   []string // PLATFORM=PATH
	Companions []string // PLATFORM=PATH of tarsctl-k8s
	Dist       string
	Platforms  []string
	SigningKey string
	Unsigned   bool
	Repository string
	Force      bool
	Quiet      bool
}

// versionRE is compiled on first use: package init runs at every tarsctl start.
var versionRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^v\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]+)?$`) })

// NewCmdBundle returns `tarsctl deploy airgap bundle`.
func NewCmdBundle(f *cmdutil.Factory, runF func(context.Context, *BundleOptions) error) *cobra.Command {
	opts := &BundleOptions{IO: f.IOStreams, Config: f.Config, Getenv: f.Getenv, Now: f.Now, Executable: os.Executable, Chart: packageChart}
	var platforms string
	cmd := &cobra.Command{
		Use:   "bundle VERSION [--output FILE] [--binary OS/ARCH=PATH]... [--dist DIR] [flags]",
		Short: "Build the offline bundle of a release",
		Long: heredoc.Doc(`
			Write FILE (tars-VERSION-airgap.tar.gz), everything under
			tars-VERSION-airgap/:

			  bin/tarsctl-linux-ARCH          tarsctl for each platform
			  bin/tarsctl-k8s-linux-ARCH      the tarsctl-k8s companion, which runs
			                                  tarsctl deploy k8s, where one is found
			  images/tars-X.Y.Z.tar           the tarsctl image for each platform, built
			                                  here without Docker: an OCI image layout
			                                  that docker load, skopeo and tarsctl
			                                  deploy airgap load read
			  charts/tars-X.Y.Z.tgz           the Helm chart
			  docs/                           the operator guide and command reference
			  docker-compose.airgap.yaml      the Compose stack for the airgap profile
			  sbom/tarsctl-linux-ARCH.*.json  CycloneDX and SPDX SBOMs of each binary
			  provenance/tars-X.Y.Z.provenance.json
			                                  SLSA provenance of the binaries and images
			  SHA256SUMS, SHA256SUMS.sig      checksums of every file, RSA-PSS signed

			tarsctl cannot compile itself: the binaries are given with --binary
			linux/arm64=PATH (repeatable) or --dist DIR (goreleaser's dist/, where
			DIR/tarsctl_linux_amd64_v1/tarsctl and the like are found); the running
			tarsctl stands for its own platform otherwise. Every platform of
			--platforms (linux/amd64,linux/arm64) must have a binary, and each binary
			is checked to be an ELF executable of its platform. The tarsctl-k8s
			companions are found the same way (--k8s-binary, --dist, the file
			beside the running tarsctl); a platform without one gets a warning.

			SHA256SUMS is signed with --signing-key or signing.key_file of the
			configuration; --unsigned leaves the signature out. The bundle is
			reproducible: file times are SOURCE_DATE_EPOCH, else the build date of
			this tarsctl, else the newest binary's mtime, and the same inputs give
			the same bytes (the RSA-PSS signatures excepted, they are randomised).
			Files are staged in $TMPDIR and streamed into FILE, which appears
			atomically and is replaced only with --force.

			EXIT STATUS
			  0    written
			  1    building it failed
			  2    bad input: a missing or wrong binary, a missing key, FILE exists
		`),
		Example: heredoc.Doc(`
			$ tarsctl deploy airgap bundle v1.0.2 --dist dist --signing-key /run/secrets/rsa_private.pem
			$ tarsctl deploy airgap bundle v1.0.2 --binary linux/amd64=bin/tarsctl --binary linux/arm64=bin/tarsctl-arm64
			$ tarsctl deploy airgap bundle v1.0.2 --platforms linux/amd64 --unsigned -o /tmp/tars-v1.0.2-airgap.tar.gz
		`),
		Args: cmdutil.ExactArgs(1, "the release VERSION, such as v1.0.2"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Version, opts.Quiet = args[0], f.Globals.Quiet
			if !versionRE().MatchString(opts.Version) {
				return cmdutil.FlagErrorf("invalid VERSION %q: want vMAJOR.MINOR.PATCH, such as v1.0.2", opts.Version)
			}
			if opts.File == "" {
				opts.File = airgap.RootDir(opts.Version) + ".tar.gz"
			}
			if opts.Unsigned && opts.SigningKey != "" {
				return cmdutil.FlagErrorf("--unsigned and --signing-key cannot be used together")
			}
			opts.Platforms = nil
			for _, p := range strings.Split(platforms, ",") {
				if p = strings.TrimSpace(p); p != "" {
					if _, err := airgap.ParsePlatform(p); err != nil {
						return cmdutil.FlagErrorf("--platforms: %v", err)
					}
					opts.Platforms = append(opts.Platforms, p)
				}
			}
			if len(opts.Platforms) == 0 {
				return cmdutil.FlagErrorf("--platforms names no platform")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return bundleRun(cmd.Context(), opts)
		},
	}
	fl := cmd.Flags()
	// --output names the bundle here; it shadows the global -o.
	fl.StringVarP(&opts.File, "output", "o", "", "bundle file to write (default tars-VERSION-airgap.tar.gz)")
	fl.StringArrayVar(&opts.Binaries, "binary", nil, "tarsctl binary for a platform, OS/ARCH=PATH (repeatable)")
	fl.StringArrayVar(&opts.Companions, "k8s-binary", nil, "tarsctl-k8s binary for a platform, OS/ARCH=PATH (repeatable)")
	fl.StringVar(&opts.Dist, "dist", "", "goreleaser dist directory to take the binaries from")
	fl.StringVar(&platforms, "platforms", "linux/amd64,linux/arm64", "platforms the bundle carries, comma-separated")
	fl.StringVar(&opts.SigningKey, "signing-key", "", "PEM private key to sign with (default: signing.key_file of the configuration)")
	fl.BoolVar(&opts.Unsigned, "unsigned", false, "do not sign SHA256SUMS and the provenance")
	fl.StringVar(&opts.Repository, "repository", compose.DefaultRepository, "image repository the image is named in")
	fl.BoolVar(&opts.Force, "force", false, "replace an existing bundle file")
	_ = cmd.MarkFlagFilename("signing-key", "pem")
	_ = cmd.MarkFlagDirname("dist")
	_ = cmd.MarkFlagFilename("output", "gz")
	return cmd
}

func bundleRun(ctx context.Context, opts *BundleOptions) error {
	st := ui.NewStatus(opts.IO, opts.Quiet)
	if _, err := os.Stat(opts.File); err == nil && !opts.Force {
		return cmdutil.FlagErrorWrap(cmdutil.WithHint(fmt.Errorf("%s already exists", opts.File), "pass --force to replace it, or --output another file"))
	}
	bins, sources, err := resolveBinaries(opts)
	if err != nil {
		return err
	}
	for _, p := range sortedKeys(bins) {
		st.Info("%s: %s (%s)", p, bins[p], sources[p])
	}
	companions, csources, cmissing, err := findBinaries(opts, k8srunner.CompanionName, "--k8s-binary", opts.Companions)
	if err != nil {
		return err
	}
	for _, p := range sortedKeys(companions) {
		st.Info("%s: %s (%s)", p, companions[p], csources[p])
	}
	if len(cmissing) > 0 {
		st.Warning("no %s for %s: there, tarsctl deploy k8s will not run from the bundle (give --k8s-binary %s=PATH, or --dist with goreleaser's build)",
			k8srunner.CompanionName, strings.Join(cmissing, ", "), cmissing[0])
	}
	var key *signing.Key
	if !opts.Unsigned {
		key, err = cmdutil.LoadSigningKey(opts.IO, opts.SigningKey, opts.Config)
		if err != nil {
			return cmdutil.WithHint(classify(err), "sign with --signing-key FILE (tarsctl keys generate rsa --out FILE makes one), or pass --unsigned")
		}
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	when, err := bundleTime(getenv, bins)
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	popts, err := provenance.DetectOptions(getenv, opts.Now, ".", provenance.Overrides{})
	if err != nil {
		return cmdutil.ClassifySupplyChain(err)
	}
	popts.StartedOn, popts.FinishedOn = when, when
	popts.Now = func() time.Time { return when }
	popts.EntryPoint = "tarsctl deploy airgap bundle " + opts.Version

	image := opts.Repository + ":" + compose.ImageTag(opts.Version)
	composeFile, err := renderAirgapCompose(image)
	if err != nil {
		return err
	}
	docsFS, err := fs.Sub(docs.FS, ".")
	if err != nil {
		return err
	}
	platforms, companionsByPlatform := byPlatform(bins), byPlatform(companions)
	rep := ui.NewProgress(opts.IO, false, opts.Quiet)
	var m *airgap.Manifest
	err = atomicfile.Write(opts.File, atomicfile.Options{Perm: 0o644, MakeDirs: true}, func(w io.Writer) error {
		var err error
		m, err = airgap.WriteBundle(ctx, w, airgap.BundleOptions{
			Version:    opts.Version,
			Binaries:   platforms,
			Companions: companionsByPlatform,
			Repository: opts.Repository,
			Chart:      opts.Chart,
			Docs:       docsFS,
			Files:      map[string][]byte{"docker-compose.airgap.yaml": composeFile},
			Key:        key,
			Time:       when,
			Provenance: popts,
			ModCache:   sbom.ModCacheDir(getenv),
			Tool:       sbom.TarsctlTool(),
			Revision:   popts.Source.Commit,
			Source:     popts.Source.URI,
			Progress:   rep,
		})
		return err
	})
	rep.Done()
	if err != nil {
		return classify(err)
	}
	for _, w := range m.Warnings {
		st.Warning("%s", w)
	}
	signed, files := "unsigned", len(m.Files)+1 // + SHA256SUMS
	if m.Signed {
		signed, files = "signed by key "+m.KeyID, files+1
	}
	st.Success("Wrote %s: %d files, image %s (%s) for %s, %s", opts.File, files, m.Image, m.Digest, strings.Join(m.Platforms, ", "), signed)
	return nil
}

// renderAirgapCompose renders the Compose stack for the airgap profile,
// running the bundle's image.
func renderAirgapCompose(image string) ([]byte, error) {
	res, err := config.Load(config.LoadOptions{
		Profile:  "airgap",
		Getenv:   func(string) string { return "" },
		ReadFile: func(string) ([]byte, error) { return nil, fs.ErrNotExist },
	})
	if err != nil {
		return nil, fmt.Errorf("airgap profile: %w", err)
	}
	return compose.Render(compose.Options{Config: res.Config, Profile: "airgap", Image: image})
}

// resolveBinaries finds a tarsctl binary for every platform, and a
// tarsctl-k8s where there is one (see [findBinaries]).
func resolveBinaries(opts *BundleOptions) (bins, sources map[string]string, err error) {
	bins, sources, missing, err := findBinaries(opts, "tarsctl", "--binary", opts.Binaries)
	if err != nil {
		return nil, nil, err
	}
	if len(missing) > 0 {
		return nil, nil, cmdutil.FlagErrorWrap(cmdutil.WithHint(
			fmt.Errorf("no tarsctl binary for %s", strings.Join(missing, ", ")),
			"give one with --binary "+missing[0]+"=PATH or --dist DIR (GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -o tarsctl-arm64 ./cmd/tarsctl builds one), or leave the platform out with --platforms"))
	}
	return bins, sources, nil
}

// findBinaries finds the program name for each platform: from flag
// (OS/ARCH=PATH, given), then --dist, then, for the running platform, the
// running executable (tarsctl) or the file beside it (tarsctl-k8s). Each
// one found is checked to be an executable of its platform; missing lists
// the platforms without one.
func findBinaries(opts *BundleOptions, name, flag string, given []string) (bins, sources map[string]string, missing []string, err error) {
	bins, sources = map[string]string{}, map[string]string{}
	for _, b := range given {
		plat, p, ok := strings.Cut(b, "=")
		if !ok || p == "" {
			return nil, nil, nil, cmdutil.FlagErrorf("invalid %s %q: want OS/ARCH=PATH, such as linux/arm64=dist/%s", flag, b, name)
		}
		if _, err := airgap.ParsePlatform(plat); err != nil {
			return nil, nil, nil, cmdutil.FlagErrorf("%s: %v", flag, err)
		}
		if !slices.Contains(opts.Platforms, plat) {
			return nil, nil, nil, cmdutil.FlagErrorf("%s %s: %s is not in --platforms (%s)", flag, b, plat, strings.Join(opts.Platforms, ","))
		}
		if _, dup := bins[plat]; dup {
			return nil, nil, nil, cmdutil.FlagErrorf("%s %s given twice", flag, plat)
		}
		bins[plat], sources[plat] = p, flag
	}
	if opts.Dist != "" {
		if fi, err := os.Stat(opts.Dist); err != nil || !fi.IsDir() {
			return nil, nil, nil, cmdutil.FlagErrorf("--dist %s is not a directory", opts.Dist)
		}
		for _, plat := range opts.Platforms {
			if _, ok := bins[plat]; ok {
				continue
			}
			os, arch, _ := strings.Cut(plat, "/")
			matches, _ := filepath.Glob(filepath.Join(opts.Dist, "*_"+os+"_"+arch+"*", name))
			slices.Sort(matches)
			if len(matches) > 0 {
				bins[plat], sources[plat] = matches[0], "--dist"
			}
		}
	}
	self := runtime.GOOS + "/" + runtime.GOARCH
	if _, ok := bins[self]; !ok && slices.Contains(opts.Platforms, self) && opts.Executable != nil {
		if exe, err := opts.Executable(); err == nil {
			if name == "tarsctl" {
				bins[self], sources[self] = exe, "the running tarsctl"
			} else if p := filepath.Join(filepath.Dir(exe), name); isFile(p) {
				bins[self], sources[self] = p, "beside the running tarsctl"
			}
		}
	}
	for _, p := range opts.Platforms {
		if _, ok := bins[p]; !ok {
			missing = append(missing, p)
		}
	}
	for p, b := range bins {
		pl, _ := airgap.ParsePlatform(p)
		if err := airgap.CheckBinary(b, pl); err != nil {
			return nil, nil, nil, classify(err)
		}
	}
	return bins, sources, missing, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// bundleTime is the time every file of the bundle carries.
func bundleTime(getenv func(string) string, bins map[string]string) (time.Time, error) {
	if t, ok, err := provenance.SourceDateEpoch(getenv); err != nil || ok {
		return t, err
	}
	if t, err := time.Parse(time.RFC3339, build.Info().Date); err == nil {
		return t.UTC(), nil
	}
	var newest time.Time
	for _, b := range bins {
		if fi, err := os.Stat(b); err == nil && fi.ModTime().After(newest) {
			newest = fi.ModTime()
		}
	}
	return newest.UTC().Truncate(time.Second), nil
}

func byPlatform(m map[string]string) map[airgap.Platform]string {
	out := make(map[airgap.Platform]string, len(m))
	for p, b := range m {
		pl, _ := airgap.ParsePlatform(p)
		out[pl] = b
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

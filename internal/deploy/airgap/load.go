package airgap

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/tars-ops/tarsctl/internal/progress"
)

// ErrRegistry is returned when the registry cannot be reached or refuses
// the push.
var ErrRegistry = errors.New("registry")

// ErrRegistryAuth is returned when the registry asks for credentials the
// push did not have.
var ErrRegistryAuth = errors.New("registry denied access")

// LoadOptions describe where [Load] pushes the images.
type LoadOptions struct {
	// Registry is HOST:PORT of the registry.
	Registry string
	// Insecure talks plain HTTP (a registry without TLS on the air-gapped
	// network).
	Insecure bool
	// Repository overrides the repository path in the registry (default:
	// the bundle's, without its registry host: tars-ops/tarsctl).
	Repository string
	// Transport is the HTTP transport (default remote.DefaultTransport).
	Transport http.RoundTripper
	// Progress receives progress; nil discards it.
	Progress progress.Reporter
	// TempDir is where the image tarball is unpacked.
	TempDir string
}

// LoadResult is what [Load] pushed.
type LoadResult struct {
	// Source is the image name in the bundle, Target where it went.
	Source string `json:"source"`
	Target string `json:"target"`
	// Digest is the image index's digest; the registry returned the same.
	Digest    string   `json:"digest"`
	Platforms []string `json:"platforms"`
}

// Load pushes the images of the bundle at path to a registry with
// go-containerregistry, as REGISTRY/REPOSITORY:TAG (the multi-platform
// index and each platform's image), then reads the manifest back from the
// registry and checks its digest.
func Load(ctx context.Context, bundle string, opts LoadOptions) ([]LoadResult, error) {
	rep := opts.Progress
	if rep == nil {
		rep = progress.Discard
	}
	dir, err := os.MkdirTemp(opts.TempDir, "tarsctl-airgap-load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	rep.Report(progress.Event{Phase: "unpack images"})
	archives, err := extractImages(ctx, bundle, dir)
	if err != nil {
		return nil, err
	}
	if len(archives) == 0 {
		return nil, fmt.Errorf("%w: %s has no images/*.tar", ErrMalformed, bundle)
	}
	nameOpts := []name.Option{name.StrictValidation}
	if opts.Insecure {
		nameOpts = append(nameOpts, name.Insecure)
	}
	tr := opts.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	ropts := []remote.Option{remote.WithContext(ctx), remote.WithTransport(tr)}
	var out []LoadResult
	for _, archive := range archives {
		layoutDir := strings.TrimSuffix(archive, ".tar") + ".oci"
		if err := extractTar(ctx, archive, layoutDir); err != nil {
			return nil, err
		}
		idx, err := OpenLayout(layoutDir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(archive), err)
		}
		src, err := RefName(layoutDir)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(archive), err)
		}
		srcRef, err := name.ParseReference(src)
		if err != nil {
			return nil, fmt.Errorf("%s names the image %q: %w", filepath.Base(archive), src, err)
		}
		repo := opts.Repository
		if repo == "" {
			repo = srcRef.Context().RepositoryStr()
		}
		target := opts.Registry + "/" + repo + ":" + srcRef.Identifier()
		ref, err := name.ParseReference(target, nameOpts...)
		if err != nil {
			return nil, fmt.Errorf("image name %s: %w", target, err)
		}
		rep.Report(progress.Event{Phase: "push", Message: ref.String()})
		if err := remote.WriteIndex(ref, idx, ropts...); err != nil {
			return nil, classifyRegistry(fmt.Errorf("push %s: %w", ref, err))
		}
		want, err := idx.Digest()
		if err != nil {
			return nil, err
		}
		// Read back what the registry now serves under the tag.
		desc, err := remote.Get(ref, ropts...)
		if err != nil {
			return nil, classifyRegistry(fmt.Errorf("read back %s: %w", ref, err))
		}
		if desc.Digest != want {
			return nil, fmt.Errorf("%w: %s serves %s after the push, want %s", ErrRegistry, ref, desc.Digest, want)
		}
		got, err := desc.ImageIndex()
		if err != nil {
			return nil, fmt.Errorf("read back %s: %w", ref, err)
		}
		im, err := got.IndexManifest()
		if err != nil {
			return nil, err
		}
		res := LoadResult{Source: src, Target: ref.String(), Digest: want.String()}
		for _, m := range im.Manifests {
			if _, err := got.Image(m.Digest); err != nil {
				return nil, fmt.Errorf("read back %s: %w", m.Digest, err)
			}
			if m.Platform != nil {
				res.Platforms = append(res.Platforms, m.Platform.OS+"/"+m.Platform.Architecture)
			}
		}
		out = append(out, res)
	}
	return out, nil
}

func classifyRegistry(err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) && (terr.StatusCode == http.StatusUnauthorized || terr.StatusCode == http.StatusForbidden) {
		return fmt.Errorf("%w: %w", ErrRegistryAuth, err)
	}
	return fmt.Errorf("%w: %w", ErrRegistry, err)
}

// extractImages copies the bundle's images/*.tar into dir and returns
// their paths.
func extractImages(ctx context.Context, bundle, dir string) ([]string, error) {
	f, err := os.Open(bundle)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not gzip-compressed: %v", ErrMalformed, bundle, err)
	}
	tr := tar.NewReader(gz)
	var out []string
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		h, err := tr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %v", ErrMalformed, bundle, err)
		}
		_, rest, _ := strings.Cut(path.Clean(h.Name), "/")
		if h.Typeflag != tar.TypeReg || !strings.HasPrefix(rest, "images/") || !strings.HasSuffix(rest, ".tar") || strings.Count(rest, "/") != 1 {
			continue
		}
		p := filepath.Join(dir, path.Base(rest))
		o, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err != nil {
			return nil, err
		}
		_, err = io.CopyBuffer(o, tr, make([]byte, 1<<20))
		if cerr := o.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
}

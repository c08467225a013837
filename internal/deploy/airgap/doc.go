// Package airgap builds, verifies and loads the offline bundle of a
// T.A.R.S. release (runbook "Model 4: Air-Gapped Deployment").
//
// # The bundle
//
// [WriteBundle] writes one tar.gz whose files sit under
// tars-VERSION-airgap/: the tarsctl binaries for each linux platform, the
// tarsctl image as an OCI image layout tarball, the Helm chart, the docs,
// a Compose file for the air-gapped site, an SBOM of each binary, SLSA
// provenance of the binaries and images, and SHA256SUMS over every other
// file with its RSA-PSS signature. Files carry one fixed mtime and owner,
// and are written in sorted order, so the same inputs give the same bytes
// (signatures excepted: RSA-PSS is randomised).
//
// # The image
//
// The image is built with go-containerregistry and no Docker daemon:
// FROM scratch, one layer with the binary at /usr/local/bin/tarsctl, the
// daemons' directories owned by uid 65532, and a passwd entry for that
// user; entrypoint ["tarsctl"]; OCI labels, and from the service catalog
// the daemons it serves (label [LabelServices]; each runs as `tarsctl
// serve NAME`) and their default ports (ExposedPorts). [WriteArchive] writes the
// multi-platform index as an OCI image layout and, in the same tar, a
// docker-archive manifest.json, as `docker save` of Docker 25 does, so
// `docker load` of either image store accepts it.
//
// # Verifying and loading
//
// [Verify] unpacks a bundle and checks every file against SHA256SUMS (no
// file missing or extra), the signature, the image layout (read back with
// go-containerregistry, every blob against its digest, each image's binary
// against bin/), the SBOMs and the provenance against the binaries'
// digests. [Load] pushes the images to a registry with
// go-containerregistry's remote package and reads them back.
package airgap

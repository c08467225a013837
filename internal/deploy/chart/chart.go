// Package chart embeds the T.A.R.S. Helm chart: one Deployment per daemon
// that `tarsctl serve` runs, with its Service, HorizontalPodAutoscaler,
// PodDisruptionBudget and NetworkPolicy, an Ingress with TLS, a ConfigMap
// holding the profile's configuration, and references to the Secrets the
// runbook names.
//
// The package reads and packages the chart; it never renders or installs
// it, and it imports no Helm or Kubernetes package, so linking it costs the
// main binary nothing at start-up. The Helm SDK is used by its tests and by
// the Kubernetes companion binary.
package chart

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/services"
)

//go:embed all:tars
var chartFS embed.FS

// root is the chart's directory in chartFS and its name.
const root = "tars"

// File is one file of the chart.
type File struct {
	Name string // relative to the chart root, slash-separated: "templates/deployment.yaml"
	Data []byte
}

// Name is the chart's name, as in Chart.yaml.
func Name() string { return root }

// Files returns every file of the chart in lexical order of Name, with the
// parts that list the daemons (templates/_services.tpl, their values.yaml
// blocks and values.schema.json properties) rendered from the service
// catalog in force.
func Files() ([]File, error) {
	files, err := embeddedFiles()
	if err != nil {
		return nil, err
	}
	byName := map[string][]byte{}
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	if err := generate(byName, services.All()); err != nil {
		return nil, fmt.Errorf("read embedded chart: %w", err)
	}
	out := make([]File, 0, len(byName))
	for name, data := range byName {
		out = append(out, File{Name: name, Data: data})
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// embeddedFiles returns the chart's files as committed.
func embeddedFiles() ([]File, error) {
	var files []File
	err := fs.WalkDir(chartFS, root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		data, err := chartFS.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, File{Name: strings.TrimPrefix(path, root+"/"), Data: data})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded chart: %w", err)
	}
	return files, nil
}

// semverRE is SemVer 2.0.0, which Helm requires of a chart version.
var semverRE = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)` +
	`(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?` +
	`(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

// archiveTime is the modification time of every archive entry, so that the
// same chart and versions always give the same bytes (and checksum).
var archiveTime = time.Unix(0, 0).UTC()

// Package writes the chart as a gzipped tar archive laid out as `helm
// package` lays it out: every file under "tars/". version and appVersion
// replace the ones in Chart.yaml; an empty one keeps Chart.yaml's. A
// leading "v" is dropped from version ("v1.0.2" gives chart version 1.0.2,
// as in the runbook's charts/tars-1.0.2.tgz); the rest must be SemVer 2, as
// Helm requires. appVersion is kept as given; it is the default image tag.
// The archive is reproducible: the same inputs give the same bytes.
func Package(w io.Writer, version, appVersion string) error {
	version = strings.TrimPrefix(version, "v")
	if version != "" && !semverRE.MatchString(version) {
		return fmt.Errorf("chart version %q is not a semantic version (expected MAJOR.MINOR.PATCH, e.g. 1.0.2)", version)
	}
	if strings.ContainsAny(appVersion, "\n\r\"\\") {
		return fmt.Errorf("app version %q must not contain quotes, backslashes or line breaks", appVersion)
	}
	files, err := Files()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		data := f.Data
		if f.Name == "Chart.yaml" {
			data = setChartField(data, "version", version)
			data = setChartField(data, "appVersion", appVersion)
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     root + "/" + f.Name,
			Mode:     0o644,
			Size:     int64(len(data)),
			ModTime:  archiveTime,
			Format:   tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("package chart: %w", err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("package chart: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("package chart: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("package chart: %w", err)
	}
	if _, err := w.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("write chart archive: %w", err)
	}
	return nil
}

// setChartField replaces the top-level "key: ..." line of Chart.yaml with
// value (quoted), keeping every other line and comment as it is. An empty
// value leaves the file alone.
func setChartField(chartYAML []byte, key, value string) []byte {
	if value == "" {
		return chartYAML
	}
	lines := strings.SplitAfter(string(chartYAML), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, key+":") {
			nl := ""
			if strings.HasSuffix(l, "\n") {
				nl = "\n"
			}
			lines[i] = key + ": " + strconv.Quote(value) + nl
			return []byte(strings.Join(lines, ""))
		}
	}
	s := string(chartYAML)
	if s != "" && !strings.HasSuffix(s, "\n") {
		s += "\n"
	}
	return []byte(s + key + ": " + strconv.Quote(value) + "\n")
}

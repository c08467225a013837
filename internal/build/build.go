// Package build reports the version, commit and build date of this binary.
//
// Release builds set the variables with -ldflags -X (see the Makefile and
// .goreleaser.yaml). A plain `go build` or `go install` leaves them empty, and
// [Info] falls back to what the Go toolchain stamped into the binary.
package build

import (
	"runtime"
	"runtime/debug"
	"sync"
)

// Set by -ldflags "-X github.com/tars-ops/tarsctl/internal/build.Version=...".
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// BuildInfo describes this binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

var (
	infoOnce sync.Once
	info     BuildInfo
)

// Info returns the build information, computed once.
func Info() BuildInfo {
	infoOnce.Do(func() {
		info = BuildInfo{
			Version:   Version,
			Commit:    Commit,
			Date:      Date,
			GoVersion: runtime.Version(),
			Platform:  runtime.GOOS + "/" + runtime.GOARCH,
		}
		if bi, ok := debug.ReadBuildInfo(); ok {
			fillFromBuildInfo(&info, bi)
		}
		if info.Version == "" {
			info.Version = "dev"
		}
		if info.Commit == "" {
			info.Commit = "unknown"
		}
		if info.Date == "" {
			info.Date = "unknown"
		}
	})
	return info
}

// fillFromBuildInfo fills the fields that ldflags left empty from the
// module version and VCS stamps recorded by the Go toolchain.
func fillFromBuildInfo(i *BuildInfo, bi *debug.BuildInfo) {
	if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		i.Version = bi.Main.Version
	}
	var modified bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if i.Commit == "" {
				i.Commit = s.Value
			}
		case "vcs.time":
			if i.Date == "" {
				i.Date = s.Value
			}
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if modified && i.Commit != "" && i.Commit != "unknown" && Commit == "" {
		i.Commit += "-dirty"
	}
}

package provenance

import (
	"fmt"
	"strconv"
	"time"

	"github.com/tars-ops/tarsctl/internal/build"
)

// Overrides are provenance facts given explicitly (as flags); they win
// over CI and git.
type Overrides struct {
	BuilderID    string
	InvocationID string
	Source       Source
}

// DetectOptions gathers the builder and source facts: o, then the CI
// environment ([DetectCI]), then the git checkout at dir ([GitSource]).
// Times come from SOURCE_DATE_EPOCH when it is set, else from now (nil:
// time.Now). The builder version is this tarsctl's. The only error is a
// [*SourceDateEpochError].
func DetectOptions(getenv func(string) string, now func() time.Time, dir string, o Overrides) (Options, error) {
	if now == nil {
		now = time.Now
	}
	epoch, hasEpoch, err := SourceDateEpoch(getenv)
	if err != nil {
		return Options{}, err
	}
	p := Options{
		Now:            now,
		StartedOn:      now(),
		BuilderVersion: map[string]string{"tarsctl": build.Info().Version},
	}
	if hasEpoch {
		p.StartedOn, p.FinishedOn = epoch, epoch
		p.Now = func() time.Time { return epoch }
	}
	if ci, ok := DetectCI(getenv); ok {
		p.CI, p.BuilderID, p.InvocationID, p.EntryPoint, p.Source = ci.System, ci.BuilderID, ci.InvocationID, ci.EntryPoint, ci.Source
	} else if src, err := GitSource(dir); err == nil {
		p.Source = src
	}
	if o.BuilderID != "" {
		p.BuilderID = o.BuilderID
	}
	if o.InvocationID != "" {
		p.InvocationID = o.InvocationID
	}
	if o.Source.URI != "" {
		p.Source.URI = o.Source.URI
	}
	if o.Source.Ref != "" {
		p.Source.Ref = o.Source.Ref
	}
	if o.Source.Commit != "" {
		p.Source.Commit = o.Source.Commit
	}
	return p, nil
}

// SourceDateEpochError is a SOURCE_DATE_EPOCH that is not a number of
// seconds since 1970: bad input.
type SourceDateEpochError struct{ Value string }

func (e *SourceDateEpochError) Error() string {
	return fmt.Sprintf("SOURCE_DATE_EPOCH=%q is not a number of seconds since 1970", e.Value)
}

// SourceDateEpoch parses SOURCE_DATE_EPOCH (https://reproducible-builds.org);
// ok is false when it is not set.
func SourceDateEpoch(getenv func(string) string) (t time.Time, ok bool, err error) {
	v := getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return time.Time{}, false, &SourceDateEpochError{Value: v}
	}
	return time.Unix(n, 0).UTC(), true, nil
}

// Timestamp is the time a reproducible artifact records: SOURCE_DATE_EPOCH
// when it is set, else now (nil: time.Now), in UTC to the second.
func Timestamp(getenv func(string) string, now func() time.Time) (time.Time, error) {
	if t, ok, err := SourceDateEpoch(getenv); err != nil || ok {
		return t, err
	}
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Second), nil
}

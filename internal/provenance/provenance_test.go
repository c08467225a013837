package provenance_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tars-ops/tarsctl/internal/provenance"
	"github.com/tars-ops/tarsctl/internal/signing"
	"github.com/tars-ops/tarsctl/internal/testenv/golden"
	"github.com/tars-ops/tarsctl/pkg/verify"
)

const (
	artifact = "../../testdata/provenance/artifact.txt"
	keysDir  = "../../testdata/keys"
	builder  = "https://github.com/tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2"
)

var fixed = time.Date(2025, 11, 28, 10, 15, 32, 0, time.UTC)

func testOptions() provenance.Options {
	return provenance.Options{
		Artifacts:      []string{artifact},
		BuilderID:      builder,
		BuilderVersion: map[string]string{"tarsctl": "v1.0.2"},
		InvocationID:   "https://github.com/tars-ops/tarsctl/actions/runs/42/attempts/1",
		CI:             "github-actions",
		EntryPoint:     ".github/workflows/release.yml",
		Source: provenance.Source{
			URI: "git+https://github.com/tars-ops/tarsctl", Ref: "refs/tags/v1.0.2",
			Commit: "0123456789abcdef0123456789abcdef01234567",
		},
		StartedOn:  fixed,
		FinishedOn: fixed.Add(3 * time.Second),
	}
}

func TestStatementGolden(t *testing.T) {
	t.Parallel()
	st, err := provenance.Generate(t.Context(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	out, err := provenance.Marshal(st, true)
	if err != nil {
		t.Fatal(err)
	}
	golden.Assert(t, out)
	// The same statement always gives the same bytes, despite protojson's
	// deliberately unstable whitespace.
	again, _ := provenance.Marshal(st, true)
	if !bytes.Equal(out, again) {
		t.Fatal("Marshal is not stable")
	}
	// And it is valid as pkg/verify reads it.
	if _, err := verify.Statement(out, verify.WithArtifactFile(artifact), verify.WithBuilderID(builder), verify.WithSourceURI("github.com/tars-ops/tarsctl")); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	opts := testOptions()
	opts.Artifacts = []string{filepath.Join(t.TempDir(), "missing.tar.gz")}
	if _, err := provenance.Generate(t.Context(), opts); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not exist", err)
	}
	opts.Artifacts = []string{t.TempDir()}
	if _, err := provenance.Generate(t.Context(), opts); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("err = %v, want a directory error", err)
	}
	opts.Artifacts = nil
	if _, err := provenance.Generate(t.Context(), opts); err == nil {
		t.Fatal("no artifacts: want an error")
	}
}

func TestHashFilesMany(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var paths []string
	for i := range 9 {
		p := filepath.Join(dir, string(rune('a'+i))+".bin")
		if err := os.WriteFile(p, bytes.Repeat([]byte{byte(i)}, 1<<20+i), 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	subs, err := provenance.HashFiles(t.Context(), paths)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range subs {
		want, _, _ := verify.SHA256File(paths[i])
		if s.SHA256 != want || s.Name != filepath.Base(paths[i]) {
			t.Errorf("subject %d = %+v, want %s", i, s, want)
		}
	}
}

func signed(t *testing.T, keyName string) ([]byte, *signing.Key) {
	t.Helper()
	k, err := signing.LoadKey(filepath.Join(keysDir, keyName))
	if err != nil {
		t.Fatal(err)
	}
	st, err := provenance.Generate(t.Context(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	env, err := provenance.Sign(t.Context(), st, k)
	if err != nil {
		t.Fatal(err)
	}
	return env, k
}

// edit decodes the envelope, lets fn change it, and encodes it again.
func edit(t *testing.T, env []byte, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(env, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	out, _ := json.Marshal(m)
	return out
}

func flipB64(t *testing.T, s string, i int) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	b[i] ^= 0x01
	return base64.StdEncoding.EncodeToString(b)
}

// TestTamper: every tampering fails verification, each with its own cause
// and message.
func TestTamper(t *testing.T) {
	t.Parallel()
	env, k := signed(t, "rsa_private.pem")
	pub := k.Public()
	otherPub, _ := verify.LoadPublicKey(filepath.Join(keysDir, "rsa_other_public.pem"))

	data, _ := os.ReadFile(artifact)
	data[0] ^= 0x01
	tamperedArtifact := filepath.Join(t.TempDir(), "artifact.txt")
	if err := os.WriteFile(tamperedArtifact, data, 0o644); err != nil {
		t.Fatal(err)
	}
	resign := func(change func(st map[string]any) string) []byte {
		var e struct{ Payload string }
		_ = json.Unmarshal(env, &e)
		raw, _ := base64.StdEncoding.DecodeString(e.Payload)
		var st map[string]any
		_ = json.Unmarshal(raw, &st)
		ptype := change(st)
		payload, _ := json.Marshal(st)
		digest := sha256Sum(verify.PAE(ptype, payload))
		sig, err := k.SignDigest(digest)
		if err != nil {
			t.Fatal(err)
		}
		return edit(t, env, func(m map[string]any) {
			m["payloadType"] = ptype
			m["payload"] = base64.StdEncoding.EncodeToString(payload)
			m["signatures"].([]any)[0].(map[string]any)["sig"] = base64.StdEncoding.EncodeToString(sig)
		})
	}

	tests := []struct {
		name string
		env  []byte
		pub  any
		opts []verify.ProvenanceOption
		want error
		msg  string
	}{
		{"artifact byte flipped", env, pub, []verify.ProvenanceOption{verify.WithArtifactFile(tamperedArtifact)}, verify.ErrSubjectNotFound, "the artifact was modified or rebuilt"},
		{"signature byte flipped", edit(t, env, func(m map[string]any) {
			s := m["signatures"].([]any)[0].(map[string]any)
			s["sig"] = flipB64(t, s["sig"].(string), 17)
		}), pub, nil, verify.ErrBadSignature, "signature is corrupt"},
		{"payload byte flipped", edit(t, env, func(m map[string]any) {
			m["payload"] = flipB64(t, m["payload"].(string), 60)
		}), pub, nil, verify.ErrContentAltered, "changed after key"},
		{"key swapped", env, otherPub, nil, verify.ErrWrongKey, "the envelope was signed by"},
		{"predicate type changed", resign(func(st map[string]any) string {
			st["predicateType"] = "https://slsa.dev/provenance/v0.2"
			return verify.PayloadTypeInToto
		}), pub, nil, verify.ErrPredicateType, `"https://slsa.dev/provenance/v0.2", want "https://slsa.dev/provenance/v1"`},
		{"payload type changed", resign(func(map[string]any) string { return "application/json" }), pub, nil, verify.ErrPayloadType, `"application/json"`},
		{"builder policy", env, pub, []verify.ProvenanceOption{verify.WithBuilderID("https://evil.example")}, verify.ErrBuilderMismatch, "https://evil.example"},
		{"source policy", env, pub, []verify.ProvenanceOption{verify.WithSourceURI("github.com/evil/tarsctl")}, verify.ErrSourceMismatch, "github.com/evil/tarsctl"},
	}
	messages := map[string]string{}
	for _, tt := range tests {
		_, err := verify.Provenance(tt.env, tt.pub, tt.opts...)
		if !errors.Is(err, tt.want) || !errors.Is(err, verify.ErrVerificationFailed) || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("%s: err = %v, want %v containing %q", tt.name, err, tt.want, tt.msg)
			continue
		}
		if other, dup := messages[err.Error()]; dup {
			t.Errorf("%s and %s fail with the same message", tt.name, other)
		}
		messages[err.Error()] = tt.name
	}
	// The untouched envelope verifies, with every policy option.
	if _, err := verify.Provenance(env, pub, verify.WithArtifactFile(artifact), verify.WithBuilderID(builder), verify.WithSourceURI("github.com/tars-ops/tarsctl")); err != nil {
		t.Fatal(err)
	}
}

func TestSignECDSA(t *testing.T) {
	t.Parallel()
	env, k := signed(t, "ecdsa_private.pem")
	res, err := verify.Provenance(env, k.Public(), verify.WithArtifactFile(artifact))
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyID != k.ID {
		t.Fatalf("key id %s, want %s", res.KeyID, k.ID)
	}
}

func TestDetectCI(t *testing.T) {
	t.Parallel()
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	tests := []struct {
		name string
		env  map[string]string
		want provenance.CI
		ok   bool
	}{
		{"none", map[string]string{}, provenance.CI{}, false},
		{"github actions", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "tars-ops/tarsctl",
			"GITHUB_WORKFLOW_REF": "tars-ops/tarsctl/.github/workflows/release.yml@refs/tags/v1.0.2",
			"GITHUB_RUN_ID":       "42", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_REF": "refs/tags/v1.0.2", "GITHUB_SHA": "abc123",
		}, provenance.CI{
			System: "github-actions", BuilderID: builder,
			InvocationID: "https://github.com/tars-ops/tarsctl/actions/runs/42/attempts/2",
			EntryPoint:   ".github/workflows/release.yml",
			Source:       provenance.Source{URI: "git+https://github.com/tars-ops/tarsctl", Ref: "refs/tags/v1.0.2", Commit: "abc123"},
		}, true},
		{"gitlab tag", map[string]string{
			"GITLAB_CI": "true", "CI_SERVER_URL": "https://gitlab.example.com", "CI_PROJECT_PATH": "ops/tars",
			"CI_PROJECT_URL": "https://gitlab.example.com/ops/tars", "CI_RUNNER_ID": "7", "CI_JOB_URL": "https://gitlab.example.com/ops/tars/-/jobs/99",
			"CI_COMMIT_TAG": "v1.0.2", "CI_COMMIT_REF_NAME": "v1.0.2", "CI_COMMIT_SHA": "def456", "CI_CONFIG_PATH": ".gitlab-ci.yml",
		}, provenance.CI{
			System: "gitlab-ci", BuilderID: "https://gitlab.example.com/ops/tars/-/runners/7",
			InvocationID: "https://gitlab.example.com/ops/tars/-/jobs/99", EntryPoint: ".gitlab-ci.yml",
			Source: provenance.Source{URI: "git+https://gitlab.example.com/ops/tars", Ref: "refs/tags/v1.0.2", Commit: "def456"},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := provenance.DetectCI(env(tt.env))
			if ok != tt.ok || got != tt.want {
				t.Fatalf("DetectCI = %+v, %v\nwant %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestGitSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	git := filepath.Join(dir, ".git")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(git, "refs", "heads"), 0o755))
	must(os.WriteFile(filepath.Join(git, "HEAD"), []byte("ref: refs/heads/main\n"), 0o644))
	must(os.WriteFile(filepath.Join(git, "packed-refs"), []byte("# pack-refs with: peeled\n0123456789abcdef0123456789abcdef01234567 refs/heads/main\n"), 0o644))
	must(os.WriteFile(filepath.Join(git, "config"), []byte("[core]\n\tbare = false\n[remote \"origin\"]\n\turl = https://ci-bot:s3cret-token@github.com/tars-ops/tarsctl.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n"), 0o644))
	sub := filepath.Join(dir, "cmd", "tarsctl")
	must(os.MkdirAll(sub, 0o755))
	src, err := provenance.GitSource(sub)
	if err != nil {
		t.Fatal(err)
	}
	want := provenance.Source{URI: "git+https://github.com/tars-ops/tarsctl.git", Ref: "refs/heads/main", Commit: "0123456789abcdef0123456789abcdef01234567"}
	if src != want {
		t.Fatalf("GitSource = %+v, want %+v", src, want)
	}
	if strings.Contains(src.URI, "s3cret") {
		t.Fatal("credentials leaked into the source URI")
	}
	if _, err := provenance.GitSource(t.TempDir()); !errors.Is(err, provenance.ErrNoGit) {
		t.Fatalf("err = %v, want ErrNoGit", err)
	}
}

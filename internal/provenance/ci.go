package provenance

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// CI is what a CI system's environment says about the running build.
type CI struct {
	// System is "github-actions" or "gitlab-ci".
	System       string
	BuilderID    string
	InvocationID string
	EntryPoint   string
	Source       Source
}

// DetectCI reads the variables GitHub Actions or GitLab CI set for a job.
// It returns false when neither is present.
func DetectCI(getenv func(string) string) (CI, bool) {
	switch {
	case getenv("GITHUB_ACTIONS") == "true":
		server := strings.TrimSuffix(or(getenv("GITHUB_SERVER_URL"), "https://github.com"), "/")
		repo := getenv("GITHUB_REPOSITORY")
		ci := CI{System: "github-actions"}
		// The workflow file at its ref identifies what built the artifact,
		// as GitHub's own build-provenance attestations do.
		if wf := getenv("GITHUB_WORKFLOW_REF"); wf != "" {
			ci.BuilderID = server + "/" + wf
			if path, _, ok := strings.Cut(strings.TrimPrefix(wf, repo+"/"), "@"); ok {
				ci.EntryPoint = path
			}
		} else if repo != "" {
			ci.BuilderID = server + "/" + repo + "/actions"
		}
		if id := getenv("GITHUB_RUN_ID"); id != "" && repo != "" {
			ci.InvocationID = fmt.Sprintf("%s/%s/actions/runs/%s/attempts/%s", server, repo, id, or(getenv("GITHUB_RUN_ATTEMPT"), "1"))
		}
		if repo != "" {
			ci.Source.URI = "git+" + server + "/" + repo
		}
		ci.Source.Ref = getenv("GITHUB_REF")
		ci.Source.Commit = getenv("GITHUB_SHA")
		return ci, true
	case getenv("GITLAB_CI") == "true":
		server := strings.TrimSuffix(getenv("CI_SERVER_URL"), "/")
		ci := CI{System: "gitlab-ci", EntryPoint: getenv("CI_CONFIG_PATH"), InvocationID: getenv("CI_JOB_URL")}
		if p, r := getenv("CI_PROJECT_PATH"), getenv("CI_RUNNER_ID"); server != "" && p != "" {
			ci.BuilderID = server + "/" + p + "/-/runners/" + or(r, "unknown")
		}
		if u := getenv("CI_PROJECT_URL"); u != "" {
			ci.Source.URI = "git+" + u
		}
		if tag := getenv("CI_COMMIT_TAG"); tag != "" {
			ci.Source.Ref = "refs/tags/" + tag
		} else if b := getenv("CI_COMMIT_REF_NAME"); b != "" {
			ci.Source.Ref = "refs/heads/" + b
		}
		ci.Source.Commit = getenv("CI_COMMIT_SHA")
		return ci, true
	}
	return CI{}, false
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// ErrNoGit is returned by [GitSource] when dir is not in a git checkout.
var ErrNoGit = errors.New("not a git checkout")

// GitSource reads the origin URL, the checked-out ref and its commit from
// the .git directory of dir or its nearest parent, without running git.
func GitSource(dir string) (Source, error) {
	gitDir, err := findGitDir(dir)
	if err != nil {
		return Source{}, err
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return Source{}, fmt.Errorf("read git HEAD: %w", err)
	}
	var src Source
	h := strings.TrimSpace(string(head))
	if ref, ok := strings.CutPrefix(h, "ref: "); ok {
		src.Ref = ref
		src.Commit, err = resolveRef(gitDir, ref)
		if err != nil {
			return Source{}, err
		}
	} else {
		src.Commit = h
	}
	if _, err := hex.DecodeString(src.Commit); err != nil || (len(src.Commit) != 40 && len(src.Commit) != 64) {
		return Source{}, fmt.Errorf("git HEAD in %s: %q is not a commit id", gitDir, src.Commit)
	}
	if u := originURL(gitDir); u != "" {
		src.URI = "git+" + u
	}
	return src, nil
}

func findGitDir(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(d, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p, nil
			}
			// A worktree or submodule: ".git" is a file "gitdir: PATH".
			b, err := os.ReadFile(p)
			if err != nil {
				return "", err
			}
			if g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: "); ok {
				if !filepath.IsAbs(g) {
					g = filepath.Join(d, g)
				}
				return g, nil
			}
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("%s: %w", dir, ErrNoGit)
		}
		d = parent
	}
}

func resolveRef(gitDir, ref string) (string, error) {
	for _, dir := range []string{gitDir, commonDir(gitDir)} {
		if b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(ref))); err == nil {
			return strings.TrimSpace(string(b)), nil
		}
		if b, err := os.ReadFile(filepath.Join(dir, "packed-refs")); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				if sha, name, ok := strings.Cut(sc.Text(), " "); ok && name == ref {
					return sha, nil
				}
			}
		}
	}
	return "", fmt.Errorf("git ref %s not found in %s (a branch without commits?)", ref, gitDir)
}

// commonDir is the shared .git of a worktree, or gitDir itself.
func commonDir(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return gitDir
	}
	c := strings.TrimSpace(string(b))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return c
}

// originURL returns remote "origin"'s URL from the git config, with any
// credentials in it removed.
func originURL(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(commonDir(gitDir), "config"))
	if err != nil {
		return ""
	}
	inOrigin := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "[") {
			inOrigin = line == `[remote "origin"]`
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && inOrigin && strings.TrimSpace(k) == "url" {
			return stripCredentials(strings.TrimSpace(v))
		}
	}
	return ""
}

// stripCredentials removes "user:token@" from an https URL, so a token in a
// CI checkout's remote never lands in a provenance document.
func stripCredentials(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return u
	}
	host, path, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if path == "" {
		return scheme + "://" + host
	}
	return scheme + "://" + host + "/" + path
}

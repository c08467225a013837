package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Build is one build configuration the graph is loaded for: files behind
// build constraints (an OS, the e2e tag) have imports of their own.
type Build struct {
	GOOS string
	Tags []string
}

// Builds are the configurations [Load] merges by default: what tarsctl
// ships for, plus the end-to-end tests' tag.
var Builds = []Build{
	{GOOS: "linux", Tags: []string{"e2e"}},
	{GOOS: "darwin"},
	{GOOS: "windows"},
}

// Load lists the packages of the module in dir with `go list` for each of
// builds and merges their production imports. It returns the module path
// and the packages sorted by path.
func Load(dir string, builds []Build) (string, []Package, error) {
	goBin, err := goCommand()
	if err != nil {
		return "", nil, err
	}
	module, err := run(goBin, dir, nil, "list", "-m")
	if err != nil {
		return "", nil, err
	}
	module = strings.TrimSpace(module)
	imports := map[string]map[string]bool{}
	for _, b := range builds {
		args := []string{"list", "-e", "-json=ImportPath,Imports"}
		if len(b.Tags) > 0 {
			args = append(args, "-tags", strings.Join(b.Tags, ","))
		}
		out, err := run(goBin, dir, []string{"GOOS=" + b.GOOS, "CGO_ENABLED=0"}, append(args, "./...")...)
		if err != nil {
			return "", nil, err
		}
		dec := json.NewDecoder(strings.NewReader(out))
		for {
			var p struct {
				ImportPath string
				Imports    []string
			}
			if err := dec.Decode(&p); errors.Is(err, io.EOF) {
				break
			} else if err != nil {
				return "", nil, fmt.Errorf("read go list output (GOOS=%s): %w", b.GOOS, err)
			}
			set := imports[p.ImportPath]
			if set == nil {
				set = map[string]bool{}
				imports[p.ImportPath] = set
			}
			for _, imp := range p.Imports {
				set[imp] = true
			}
		}
	}
	pkgs := make([]Package, 0, len(imports))
	for path, set := range imports {
		p := Package{Path: path}
		for imp := range set {
			p.Imports = append(p.Imports, imp)
		}
		slices.Sort(p.Imports)
		pkgs = append(pkgs, p)
	}
	slices.SortFunc(pkgs, func(a, b Package) int { return strings.Compare(a.Path, b.Path) })
	return module, pkgs, nil
}

// goCommand finds the go command on $PATH (go test puts its own GOROOT/bin
// first there).
func goCommand() (string, error) {
	p, err := exec.LookPath("go")
	if err != nil {
		return "", errors.New("the go command is not on $PATH (the import rules are checked with go list)")
	}
	return p, nil
}

func run(goBin, dir string, env []string, args ...string) (string, error) {
	cmd := exec.Command(goBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go %s %s: %w\n%s", strings.Join(env, " "), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

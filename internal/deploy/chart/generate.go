package chart

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/tars-ops/tarsctl/internal/services"
)

// The chart's files that list the daemons, relative to the chart root.
// Their daemon parts are generated from the service catalog: [Files]
// renders them from the catalog in force, and [Generated] gives them for
// the committed copies (`make docs` writes them; a test fails when they
// are stale).
const (
	servicesFile = "templates/_services.tpl"
	valuesFile   = "values.yaml"
	schemaFile   = "values.schema.json"
)

// SourceDir is the chart's directory in the repository.
const SourceDir = "internal/deploy/chart/" + root

// Markers around the generated daemon blocks of values.yaml.
const (
	valuesBegin = "# BEGIN daemons: generated from the service catalog (internal/services) by `make docs`"
	valuesEnd   = "# END daemons"
)

// schemaAnchor is the line of values.schema.json the daemons' properties
// follow; a property line whose value is exactly the daemon definition's
// reference is generated.
const (
	schemaAnchor = `    "replicaCount": {"type": "integer", "minimum": 0},`
	schemaRef    = `{"$ref": "#/definitions/daemon"}`
)

// generate rewrites the generated parts of the chart's files for entries.
// files maps names relative to the chart root to their contents; the
// three generated files must be there.
func generate(files map[string][]byte, entries []services.Entry) error {
	files[servicesFile] = servicesTemplate(entries)
	v, err := spliceValues(files[valuesFile], entries)
	if err != nil {
		return err
	}
	files[valuesFile] = v
	s, err := spliceSchema(files[schemaFile], entries)
	if err != nil {
		return err
	}
	files[schemaFile] = s
	return nil
}

// servicesTemplate is templates/_services.tpl: the "tars.services" list
// every template ranges over.
func servicesTemplate(entries []services.Entry) []byte {
	var b bytes.Buffer
	b.WriteString(`{{/*
GENERATED from the service catalog (internal/services) by ` + "`make docs`" + `; do not
edit. The daemons, in dependency order:
  name       the workload and its Service (the runbook's deployment/dashboard-api)
  key        its values block (dashboardApi.replicas, ...)
  configKey  its configuration section, services.KEY ("" for none)
  kind       Deployment, or StatefulSet (with a headless Service NAME-headless)
  autoscale  whether it gets a HorizontalPodAutoscaler when autoscaling is on
  port       its API port, unless its values block sets one
  peerPort   the port its peers reach it on (0: none), unless its values block sets one
*/}}
{{- define "tars.services" -}}
`)
	for _, e := range entries {
		fmt.Fprintf(&b, "- name: %s\n  key: %s\n  configKey: %q\n  kind: %s\n  autoscale: %t\n  port: %d\n  peerPort: %d\n",
			e.Name, ValuesKey(e.Name), e.ConfigKey, e.Kind, e.Autoscale, e.APIPort, e.PeerPort)
	}
	b.WriteString("{{- end }}\n")
	return b.Bytes()
}

// spliceValues replaces the daemon blocks of values.yaml, between the
// markers, with one block per entry.
func spliceValues(values []byte, entries []services.Entry) ([]byte, error) {
	var b strings.Builder
	b.WriteString(valuesBegin + "\n")
	for _, e := range entries {
		fmt.Fprintf(&b, "%s:\n  enabled: true\n  port: %d\n", ValuesKey(e.Name), e.APIPort)
		if e.PeerPort != 0 {
			fmt.Fprintf(&b, "  peerPort: %d\n", e.PeerPort)
		}
	}
	b.WriteString(valuesEnd + "\n")
	s := string(values)
	i := strings.Index(s, valuesBegin+"\n")
	j := strings.Index(s, valuesEnd+"\n")
	if i < 0 || j < i {
		return nil, fmt.Errorf("%s: no %q ... %q lines around the daemon blocks", valuesFile, valuesBegin, valuesEnd)
	}
	return []byte(s[:i] + b.String() + s[j+len(valuesEnd)+1:]), nil
}

// spliceSchema puts one property per entry, referring to the daemon
// definition, after the anchor line of values.schema.json, and drops the
// daemon properties that were there.
func spliceSchema(schema []byte, entries []services.Entry) ([]byte, error) {
	lines := strings.SplitAfter(string(schema), "\n")
	var out []string
	found := false
	for _, l := range lines {
		if strings.HasSuffix(strings.TrimRight(l, "\n"), ": "+schemaRef+",") && strings.HasPrefix(l, `    "`) {
			continue
		}
		out = append(out, l)
		if strings.TrimRight(l, "\n") == schemaAnchor {
			found = true
			for _, e := range entries {
				out = append(out, fmt.Sprintf("    %q: %s,\n", ValuesKey(e.Name), schemaRef))
			}
		}
	}
	if !found {
		return nil, fmt.Errorf("%s: no line %q to put the daemons' properties after", schemaFile, schemaAnchor)
	}
	return []byte(strings.Join(out, "")), nil
}

// Generated returns the chart's generated files as the catalog in force
// makes them, by their path in the repository (under [SourceDir]): what
// `make docs` writes.
func Generated() (map[string][]byte, error) {
	files, err := Files()
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, f := range files {
		switch f.Name {
		case servicesFile, valuesFile, schemaFile:
			out[SourceDir+"/"+f.Name] = f.Data
		}
	}
	return out, nil
}

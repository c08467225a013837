// Package compliance evaluates the compliance controls a profile lists
// (compliance.controls): encryption_at_rest, encryption_in_transit,
// audit_logging and data_retention. dashboard-api serves the result at
// GET /api/compliance/status; triage evaluates it from the configuration
// when the daemon does not answer.
package compliance

import (
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tars-ops/tarsctl/internal/config"
)

// Control results.
const (
	ControlPass = "pass"
	ControlFail = "fail"
)

// ControlResult is one compliance control evaluated against the running
// configuration.
type ControlResult struct {
	Name   string `json:"name"`
	Status string `json:"status"`
	Detail string `json:"detail"`
}

// Report is the body of GET /api/compliance/status.
type Report struct {
	EnforcementMode string          `json:"enforcement_mode"`
	Compliant       bool            `json:"compliant"`
	Controls        []ControlResult `json:"controls"`
	CheckedAt       time.Time       `json:"checked_at"`
}

// Failed returns the controls that did not pass.
func (r Report) Failed() []ControlResult {
	var out []ControlResult
	for _, c := range r.Controls {
		if c.Status != ControlPass {
			out = append(out, c)
		}
	}
	return out
}

// Evaluate checks each control the profile lists against what
// is actually configured and present on disk.
func Evaluate(cfg *config.Config, auditOpen bool, now time.Time) Report {
	rep := Report{EnforcementMode: cfg.Compliance.EnforcementMode, Compliant: true, Controls: []ControlResult{}, CheckedAt: now.UTC()}
	for _, name := range cfg.Compliance.Controls {
		var ok bool
		var detail string
		switch name {
		case "encryption_at_rest":
			ok, detail = checkEncryptionAtRest(cfg.Encryption)
		case "encryption_in_transit":
			ok = cfg.API.TLS.CertFile != ""
			detail = "the API serves TLS"
			if cfg.API.TLS.ClientCAFile != "" {
				detail = "the API serves mutual TLS"
			}
			if !ok {
				detail = "the API serves plain HTTP; set api.tls.cert_file and api.tls.key_file"
			}
		case "audit_logging":
			ok = cfg.Audit.Enabled && auditOpen
			detail = "security events are written to the audit log"
			if !ok {
				detail = "the audit log is off or could not be opened; set audit.enabled: true"
			}
		case "data_retention":
			ok = cfg.Compliance.DataRetentionDays > 0
			detail = fmt.Sprintf("data is kept for %d days", cfg.Compliance.DataRetentionDays)
			if !ok {
				detail = "no retention period set; set compliance.data_retention_days"
			}
		default:
			detail = "unknown control"
		}
		status := ControlPass
		if !ok {
			status = ControlFail
			rep.Compliant = false
		}
		rep.Controls = append(rep.Controls, ControlResult{Name: name, Status: status, Detail: detail})
	}
	return rep
}

// checkEncryptionAtRest passes when encryption is on and the key file holds
// an AES-256 key: 32 raw bytes or 64 hex digits.
func checkEncryptionAtRest(e config.EncryptionConfig) (bool, string) {
	if !e.Enabled {
		return false, "encryption.enabled is false"
	}
	b, err := os.ReadFile(e.KeyFile)
	if err != nil {
		return false, fmt.Sprintf("key file %s cannot be read: %v", e.KeyFile, errorsCause(err))
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) == 32 {
		return true, "AES-256-GCM with key file " + e.KeyFile
	}
	if len(b) == 32 {
		return true, "AES-256-GCM with key file " + e.KeyFile
	}
	return false, fmt.Sprintf("key file %s does not hold an AES-256 key (64 hex digits or 32 bytes)", e.KeyFile)
}

func errorsCause(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

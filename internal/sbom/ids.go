package sbom

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// contentUUID derives a UUID (version 5, in the URL namespace) from the
// inventory's content, the timestamp and the format: the same SBOM made at
// the same instant gets the same serial number or namespace, and a changed
// one a different one.
func contentUUID(inv *Inventory, opts WriteOptions, format string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%s\n%s\n", format, opts.Timestamp.UTC().Format(time.RFC3339Nano), opts.Tool.Name, opts.Tool.Version)
	writeInventoryDigest(h, inv)
	return uuid5(hex.EncodeToString(h.Sum(nil)))
}

func writeInventoryDigest(w io.Writer, inv *Inventory) {
	enc := json.NewEncoder(w)
	_ = enc.Encode(inv.Root)
	_ = enc.Encode(inv.Components)
	for _, c := range append([]Component{inv.Root}, inv.Components...) {
		_ = enc.Encode([]any{c.Ref, inv.Dependencies[c.Ref]})
	}
}

// uuid5 is RFC 9562's name-based UUID with SHA-1 in the URL namespace.
func uuid5(name string) string {
	ns := []byte{0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns)
	h.Write([]byte("urn:tarsctl:sbom:" + name))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

var (
	spdxLicenseIDsOnce sync.Once
	spdxLicenseIDs     map[string]bool
)

// IsSPDXLicenseID reports whether id is on the SPDX license list (the
// version CycloneDX's schema embeds).
func IsSPDXLicenseID(id string) bool {
	spdxLicenseIDsOnce.Do(func() {
		var s struct {
			Enum []string `json:"enum"`
		}
		data, err := schemaFS.ReadFile("schema/spdx.schema.json")
		if err == nil && json.Unmarshal(data, &s) == nil {
			spdxLicenseIDs = make(map[string]bool, len(s.Enum))
			for _, e := range s.Enum {
				spdxLicenseIDs[e] = true
			}
		}
	})
	return spdxLicenseIDs[id]
}

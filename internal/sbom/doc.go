// Package sbom builds software bills of materials: it inventories a source
// tree or a Go binary into an [Inventory] and writes it as CycloneDX JSON or
// SPDX 2.3 JSON; it also reads both formats back, merges and diffs them, and
// validates them against their specifications. It never touches the network
// and never prints.
//
// # Catalogers
//
// Each inventory source is a [Cataloger]: Go modules (go.mod and go.sum),
// Go binaries (their embedded build information), Python (requirements*.txt
// with pinned versions, poetry.lock, Pipfile.lock) and npm (package-lock.json
// v2 and v3). A cataloger returns components with a package URL, a version,
// the hashes its source records, a license when one can be known offline,
// and the dependency edges it can see; [Catalog] runs every cataloger that
// matches and roots the result at one main component.
//
// Hashes are recorded as what they are: npm's integrity is a SHA-512 (or
// SHA-1) of the package tarball, pip's --hash and poetry's file hashes are
// SHA-256 of a distribution file, and Go's "h1:" is a hash of a module's file
// tree (dirhash), never a file SHA-256, so it is kept as the property
// "tarsctl:go:h1" and never as a hash.
//
// Go licenses come from the LICENSE file of each module in the local module
// cache ($GOMODCACHE, else $GOPATH/pkg/mod), identified as an SPDX id. A
// module that is not in the cache is reported in [Inventory.Warnings], never
// fetched.
//
// # Determinism
//
// Components, dependencies, hashes and properties are sorted; the CycloneDX
// serial number and the SPDX namespace are derived from the content and the
// timestamp. With the timestamp fixed (SOURCE_DATE_EPOCH), the same input
// gives byte-identical output on any machine: Go package URLs carry no
// host-dependent qualifiers such as goos or goarch.
package sbom

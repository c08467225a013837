#!/usr/bin/env bash
# vault-testenv.sh builds and runs a real HashiCorp Vault dev server on
# 127.0.0.1 for the Vault tests (tarsctl secrets generate --sink vault,
# tarsctl deploy vault render). internal/testenv.Vault starts the same binary
# itself; `up`/`down` are for trying things by hand.
#
#   vault-testenv.sh build       build vault once into $VAULT_TESTENV_BIN
#   vault-testenv.sh path        print the binary's path (building it if needed)
#   vault-testenv.sh up DIR      start a dev server; writes DIR/addr, DIR/token,
#                                DIR/pid and DIR/vault.log
#   vault-testenv.sh down DIR    stop it
#
# Vault v1.14.2 is the last MPL-2.0 line whose source builds from the Go
# module proxy as it is (1.14.9 and later are BSL; 1.14.3-1.14.8 need
# backports in their in-tree sdk that no published sdk version has). Its
# go.mod replaces ./api and ./sdk, so a scratch module requires it and points
# those at published versions: api v1.9.2 and sdk v0.9.2 (vault-testenv.mod,
# beside this script, pins every version). sdk v0.9.2 was
# tagged from main and added one start-up check that release/1.14.x never
# had (a path with a create operation must have an existence check); Vault
# 1.14.2's enterprise-only stub paths fail it and the server panics at start.
# The build turns that one check off in a copy of sdk v0.9.2, nothing else.
#
# Cached outside the repository: ~20 minutes and ~270 MB the first time on a
# fresh machine (most of it downloading and compiling Vault's dependencies),
# nothing after that. Needs: go, curl (for up).
set -euo pipefail

VV=1.14.2          # MPL-2.0; see above before changing it
API=v1.9.2         # github.com/hashicorp/vault/api, as Vault 1.14.2's go.mod requires
SDK=v0.9.2         # github.com/hashicorp/vault/sdk, likewise
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${VAULT_TESTENV_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tarsctl-vault-testenv/$VV}
TOKEN=${VAULT_TESTENV_TOKEN:-tarsctl-test-root}

die() { echo "vault-testenv: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install it (apt-get install -y $2)"; }

built() { [ -x "$BIN/vault" ]; }

build() {
	built && { echo "vault-testenv: vault $VV cached in $BIN" >&2; return 0; }
	need go golang
	echo "vault-testenv: building Vault $VV into $BIN (once; ~20 min on a fresh machine)" >&2
	local work; work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
	mkdir -p "$BIN.tmp"
	(
		cd "$work" && export GOFLAGS=-mod=mod CGO_ENABLED=0
		# The dependency versions are pinned in vault-testenv.mod (beside this
		# script): Vault 1.14.2's own minimums build but panic at start with
		# current Go.
		cp "$HERE/vault-testenv.mod" go.mod
		grep -q "^require github.com/hashicorp/vault v$VV\$" go.mod || die "vault-testenv.mod does not require Vault v$VV"
		local sdkdir
		sdkdir=$(go mod download -json "github.com/hashicorp/vault/sdk@$SDK" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
		[ -n "$sdkdir" ] || die "could not download github.com/hashicorp/vault/sdk@$SDK"
		cp -r "$sdkdir" sdk && chmod -R u+w sdk
		sed -i 's/^\t\tif p.ExistenceCheck == nil {$/\t\tif false \&\& p.ExistenceCheck == nil { \/\/ release\/1.14.x has no such check/' sdk/framework/backend.go
		grep -q 'if false && p.ExistenceCheck == nil' sdk/framework/backend.go || die "sdk $SDK: the existence-check patch did not apply"
		grep -q "^replace github.com/hashicorp/vault/sdk => ./sdk\$" go.mod &&
			grep -q "^replace github.com/hashicorp/vault/api => github.com/hashicorp/vault/api $API\$" go.mod ||
			die "vault-testenv.mod must replace the sdk with ./sdk and the api with $API"
		go build -trimpath -ldflags "-s -w" -o "$BIN.tmp/vault" github.com/hashicorp/vault
	)
	"$BIN.tmp/vault" version | grep -q "Vault v$VV" || die "the built binary does not say it is Vault v$VV"
	rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
	echo "vault-testenv: built $BIN/vault ($(du -h "$BIN/vault" | cut -f1))" >&2
}

up() {
	need curl curl
	built || build
	mkdir -p "$ROOT"
	[ -f "$ROOT/pid" ] && kill -0 "$(cat "$ROOT/pid")" 2>/dev/null && die "a dev server already runs from $ROOT (pid $(cat "$ROOT/pid"))"
	local port=${VAULT_PORT:-8200}
	"$BIN/vault" server -dev -dev-root-token-id="$TOKEN" -dev-listen-address="127.0.0.1:$port" -dev-no-store-token \
		>"$ROOT/vault.log" 2>&1 &
	echo $! > "$ROOT/pid"
	local i
	for ((i = 0; i < 120; i++)); do
		curl -sf --max-time 2 "http://127.0.0.1:$port/v1/sys/health" >/dev/null 2>&1 && break
		kill -0 "$(cat "$ROOT/pid")" 2>/dev/null || die "vault exited; see $ROOT/vault.log"
		sleep 0.25
	done
	((i < 120)) || die "vault not ready after 30s; see $ROOT/vault.log"
	echo "http://127.0.0.1:$port" > "$ROOT/addr"
	(umask 077 && echo "$TOKEN" > "$ROOT/token")
	echo "export VAULT_ADDR=http://127.0.0.1:$port VAULT_TOKEN=\$(cat $ROOT/token)"
}

down() {
	[ -f "$ROOT/pid" ] || return 0
	local pid i; pid=$(cat "$ROOT/pid")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		for ((i = 0; i < 40; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
	fi
	rm -f "$ROOT/pid"
}

case "${1:-}" in
build) build ;;
path) built || build >&2; echo "$BIN/vault" ;;
up) [ $# -eq 2 ] || die "usage: $0 up DIR"; ROOT=$(realpath -m "$2"); up ;;
down) [ $# -eq 2 ] || die "usage: $0 down DIR"; ROOT=$(realpath -m "$2"); down ;;
*) die "usage: $0 build | path | up DIR | down DIR" ;;
esac

#!/usr/bin/env bash
# test-deps.sh installs the programs the tests need when they are missing:
# redis-server, skopeo and the PostgreSQL 15 server binaries (initdb,
# postgres, pg_dump), plus the unprivileged "postgres" OS user that internal/testenv runs
# PostgreSQL as when the tests run as root. It is idempotent and prints one
# line when everything is already present. As root it installs Debian packages
# with apt-get; as any other user it only checks, and fails with what to install.
#
# Environment:
#   PG_BIN  directory holding initdb, postgres and pg_dump
#           (default /usr/lib/postgresql/15/bin)
#
# Debian's redis-server package may start a system redis on port 6379. That is
# harmless: the tests start their own servers on ephemeral loopback ports.
set -euo pipefail

pg_bin="${PG_BIN:-/usr/lib/postgresql/15/bin}"
pg_tools=(initdb postgres pg_dump)

die() {
	echo "test deps: $*" >&2
	exit 1
}

is_root() {
	[[ "$(id -u)" -eq 0 ]]
}

have_redis() {
	command -v redis-server >/dev/null 2>&1 || [[ -x /usr/bin/redis-server ]]
}

missing_pg_tools() {
	local tool missing=()
	for tool in "${pg_tools[@]}"; do
		[[ -x "$pg_bin/$tool" ]] || missing+=("$tool")
	done
	echo "${missing[*]}"
}

apt_updated=0

# apt_install installs Debian packages, refreshing the package lists first
# only when apt does not know a candidate for one of them, and once more if
# the install fails (stale lists point at files the mirror no longer has).
apt_install() {
	local pkg
	command -v apt-get >/dev/null 2>&1 || die "apt-get not found: install $* with your package manager"
	for pkg in "$@"; do
		if ! apt-cache policy "$pkg" 2>/dev/null | grep -q 'Candidate: [^(]'; then
			apt_update
			break
		fi
	done
	echo "test deps: installing $*" >&2
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2; then
		[[ "$apt_updated" -eq 0 ]] || die "apt-get install $* failed"
		apt_update
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >&2 ||
			die "apt-get install $* failed"
	fi
}

apt_update() {
	[[ "$apt_updated" -eq 0 ]] || return 0
	echo "test deps: apt-get update" >&2
	apt-get update -q >&2 || die "apt-get update failed"
	apt_updated=1
}

changed=0

if ! have_redis; then
	is_root || die "redis-server not found: run as root, or install it: sudo apt-get install -y redis-server"
	apt_install redis-server
	have_redis || die "redis-server still not found after installing the redis-server package"
	changed=1
fi

missing_tools="$(missing_pg_tools)"
if [[ -n "$missing_tools" ]]; then
	if [[ -n "${PG_BIN:-}" ]]; then
		die "PG_BIN=$PG_BIN lacks $missing_tools: point PG_BIN at a PostgreSQL bin directory, or unset it and install postgresql-15"
	fi
	is_root || die "PostgreSQL binaries not found in $pg_bin ($missing_tools missing): run as root, or install them: sudo apt-get install -y postgresql-15"
	apt_install postgresql-15
	missing_tools="$(missing_pg_tools)"
	[[ -z "$missing_tools" ]] || die "$missing_tools still missing from $pg_bin after installing postgresql-15"
	changed=1
fi

# skopeo reads the air-gap bundle's image tarball in internal/deploy/airgap's
# tests, a second opinion beside go-containerregistry.
if ! command -v skopeo >/dev/null 2>&1; then
	is_root || die "skopeo not found: run as root, or install it: sudo apt-get install -y skopeo"
	apt_install skopeo
	command -v skopeo >/dev/null 2>&1 || die "skopeo still not found after installing the skopeo package"
	changed=1
fi

# PostgreSQL refuses to run as root, so tests running as root start it as the
# "postgres" user. The postgresql-common package creates that user; binaries
# from elsewhere may come without it.
if is_root && ! getent passwd postgres >/dev/null; then
	echo "test deps: creating system user postgres" >&2
	group_args=(--user-group)
	if getent group postgres >/dev/null; then
		group_args=(--gid postgres)
	fi
	useradd --system "${group_args[@]}" --home-dir /var/lib/postgresql --no-create-home \
		--shell /usr/sbin/nologin --comment "PostgreSQL administrator" postgres ||
		die "useradd postgres failed"
	changed=1
fi

if [[ "$changed" -eq 1 ]]; then
	echo "test deps: ok (installed missing dependencies)"
else
	echo "test deps: ok"
fi

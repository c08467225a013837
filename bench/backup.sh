#!/usr/bin/env bash
# Backup figures (issue 7), as whole processes with hyperfine, same run:
#
#   1. A ~1 GiB PostgreSQL database (pgbench -i on a temporary server):
#      `tarsctl backup create --postgres` versus `pg_dump -Fc` alone.
#      Goal: at most 1.2x pg_dump's time. tarsctl's time includes hashing,
#      writing the manifest and re-reading the part to check it.
#   2. The same server's data directory, stopped (about 1.3 GiB of heap,
#      index and WAL files): `tarsctl backup create --dir` (its default
#      level, about zstd -3, and --compression fast, about -1) versus
#      `tar -cf - | zstd` (zstd's default level 3, one thread, as it runs
#      unless told otherwise), and, for reference, `zstd -T0`.
#      Goal: at least as fast as tar | zstd.
#
#   bench/backup.sh                   # scale 68 (about 1 GiB), 3 runs each
#   SCALE=10 RUNS=5 bench/backup.sh   # a quick one
#   KEEP=1 bench/backup.sh            # keep the work directory
#   TARSCTL=bin/tarsctl bench/backup.sh   # use this binary instead of building one
#
# Needs the PostgreSQL 15 server binaries (/usr/lib/postgresql/15/bin),
# zstd and hyperfine (installed with apt when missing and run as root).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE=${SCALE:-68}
RUNS=${RUNS:-3}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PORT=${PORT:-$((20000 + RANDOM % 20000))}

need() {
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else
    echo "$1 not found: apt-get install $2" >&2; exit 2
  fi
}
need hyperfine hyperfine
need zstd zstd
for b in initdb pg_ctl pg_dump pgbench; do
  [ -x "$PG_BIN/$b" ] || { echo "$PG_BIN/$b not found: apt-get install postgresql-15" >&2; exit 2; }
done

work=$(mktemp -d /var/tmp/tarsctl-bench-backup.XXXXXX)
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); fi
cleanup() {
  "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null 2>&1 || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

if [ -n "${TARSCTL:-}" ]; then
  cp "$TARSCTL" "$work/tarsctl"
else
  CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/tarsctl" ./cmd/tarsctl
fi

echo "== temporary PostgreSQL on port $PORT, pgbench -i -s $SCALE"
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres "$work/pg"
"${as_pg[@]}" "$PG_BIN/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $PORT -k $work/pg -c listen_addresses=127.0.0.1 -c fsync=off -c max_wal_size=4GB" start >/dev/null
URL="postgres://postgres@127.0.0.1:$PORT/bench?sslmode=disable"
"$PG_BIN/psql" -q "postgres://postgres@127.0.0.1:$PORT/postgres" -c 'CREATE DATABASE bench'
"$PG_BIN/pgbench" -i -q -s "$SCALE" "$URL" 2>&1 | tail -1
"$PG_BIN/psql" -qAt "$URL" -c 'VACUUM ANALYZE' -c "SELECT 'database size: ' || pg_size_pretty(pg_database_size('bench'))"

export TARS_DATABASE_DRIVER=postgres TARS_DATABASE_HOST=127.0.0.1 TARS_DATABASE_PORT=$PORT \
  TARS_DATABASE_USER=postgres TARS_DATABASE_NAME=bench TARS_DATABASE_SSLMODE=disable TARS_PATHS_HOME=$work/home

mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"])' "$@"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }

echo "== PostgreSQL: pg_dump -Fc alone vs tarsctl backup create --postgres ($RUNS runs each, same run)"
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/pg.json" \
  --prepare "rm -rf $work/repo-pg" \
  -n 'pg_dump -Fc' "$PG_BIN/pg_dump -Fc -f $work/pg.dump $URL" \
  -n 'tarsctl backup create --postgres' "$work/tarsctl backup create --postgres --repo $work/repo-pg --quiet" \
  >/dev/null
dump=$(mean "$work/pg.json" 0)
ours=$(mean "$work/pg.json" 1)
"$work/tarsctl" backup verify --repo "$work/repo-pg" --quiet >/dev/null
printf 'pg_dump -Fc:             %6.2f s mean (%s)\n' "$dump" "$(du -h "$work/pg.dump" | cut -f1)"
printf 'tarsctl backup create:   %6.2f s mean (%s)\n' "$ours" "$(du -sh "$work/repo-pg" | cut -f1)"
r=$(ratio "$ours" "$dump")
echo "ratio:                   ${r}x (goal <= 1.2x): $(python3 -c "print('ok' if $r <= 1.2 else 'OVER')")"

echo "== data directory: tar | zstd vs tarsctl backup create --dir ($RUNS runs each)"
"${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$work/pg/data" -m fast stop >/dev/null
tree="$work/pg/data"
bytes=$(du -sb "$tree" | cut -f1)
cat $(find "$tree" -type f) >/dev/null # warm the page cache for everyone
# tarsctl last, so its repository is still there to measure afterwards.
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/dir.json" \
  --prepare "rm -rf $work/repo-dir" \
  -n 'tar | zstd' "bash -c 'set -o pipefail; tar -cf - -C $tree . | zstd -q -f -o $work/tree.tar.zst'" \
  -n 'tar | zstd -T0 (reference)' "bash -c 'set -o pipefail; tar -cf - -C $tree . | zstd -q -f -T0 -o $work/tree-t0.tar.zst'" \
  -n 'tarsctl backup create --dir --compression fast' "$work/tarsctl backup create --dir data=$tree --repo $work/repo-dir --quiet --compression fast" \
  -n 'tarsctl backup create --dir' "$work/tarsctl backup create --dir data=$tree --repo $work/repo-dir --quiet" \
  >/dev/null
tz=$(mean "$work/dir.json" 0)
tt=$(mean "$work/dir.json" 1)
tf=$(mean "$work/dir.json" 2)
td=$(mean "$work/dir.json" 3)
mbs() { python3 -c "print(f'{$bytes / float(\"$1\") / 1048576:7.1f}')"; }
printf 'tree: %s in %s files\n' "$(du -sh "$tree" | cut -f1)" "$(find "$tree" -type f | wc -l)"
printf 'tar | zstd:              %6.2f s mean, %s MiB/s\n' "$tz" "$(mbs "$tz")"
printf 'tarsctl backup create:   %6.2f s mean, %s MiB/s (default level)\n' "$td" "$(mbs "$td")"
printf 'tarsctl --compression fast: %3.2f s mean, %s MiB/s\n' "$tf" "$(mbs "$tf")"
printf 'tar | zstd -T0:          %6.2f s mean, %s MiB/s (reference)\n' "$tt" "$(mbs "$tt")"
r2=$(ratio "$tz" "$td")
r3=$(ratio "$tz" "$tf")
echo "throughput ratio:        ${r2}x of tar | zstd at the default level, ${r3}x with --compression fast (goal >= 1x): $(python3 -c "print('ok' if $r2 >= 1 else 'UNDER')")"
printf 'compressed: tar | zstd %s, tarsctl (default level) %s\n' "$(du -b "$work/tree.tar.zst" | cut -f1)" "$(du -sb "$work/repo-dir" | cut -f1)"

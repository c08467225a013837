#!/usr/bin/env bash
# AES key rotation figures (issue 6), same run:
#
#   1. `tarsctl keys rotate aes` re-encrypting SIZE_MIB (default 1024) of
#      checkpoint files (FILES files, default 256 of 4 MiB) from the old key
#      to the new one: decrypt, encrypt, write a temp file, fsync, rename.
#      Throughput is plaintext bytes / the migrate phase's time, as the
#      command reports it (migrate_seconds in -o json); the wall time of the
#      whole command (scan, migrate, verify) is printed too.
#   2. The machine's AES-256-GCM limit, one core:
#        openssl speed -evp aes-256-gcm -bytes 16384
#        go test crypto/cipher -bench 'AESGCM/(Seal|Open)-256-8192$'  (the slower)
#      and openssl with -multi $(nproc) for reference.
#
#   Goal: the re-encryption runs at >= 50% of the lower of the two one-core
#   limits. Re-encryption decrypts and encrypts every byte (two AES-GCM
#   passes), and writes it; tarsctl keeps up to 4 x GOMAXPROCS files (at
#   most 16) in flight, GOMAXPROCS of them encrypting while the others wait
#   for their fsync, and re-seals each chunk for chunk in one 1 MiB buffer.
#
#   bench/keys.sh                      # 1 GiB
#   SIZE_MIB=256 bench/keys.sh         # a quick one
#   KEEP=1 bench/keys.sh               # keep the work directory
#   TARSCTL=bin/tarsctl bench/keys.sh  # use this binary instead of building one
#   WORK=/dev/shm/x bench/keys.sh      # put the data elsewhere (default: a temp dir under TMPDIR)
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=${SIZE_MIB:-1024}
FILES=${FILES:-256}
command -v openssl >/dev/null || { echo "openssl not found: apt-get install openssl" >&2; exit 2; }
command -v python3 >/dev/null || { echo "python3 not found: apt-get install python3" >&2; exit 2; }

WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tarsctl-keys-bench.XXXXXX")}
mkdir -p "$WORK"
cleanup() { [ -n "${KEEP:-}" ] && echo "work directory: $WORK" >&2 || rm -rf "$WORK"; }
trap cleanup EXIT

if [ -z "${TARSCTL:-}" ]; then
  TARSCTL=$WORK/tarsctl
  go build -o "$TARSCTL" ./cmd/tarsctl
fi

per_file_kib=$((SIZE_MIB * 1024 / FILES))
echo "== data: $FILES files of $per_file_kib KiB ($SIZE_MIB MiB) in $WORK" >&2
"$TARSCTL" -q keys generate aes --out "$WORK/old.key" >/dev/null
"$TARSCTL" -q keys generate aes --out "$WORK/new.key" >/dev/null
head -c $((per_file_kib * 1024)) /dev/urandom >"$WORK/plain"
mkdir -p "$WORK/data"
for i in $(seq -w 1 "$FILES"); do
  d="$WORK/data/agent-$((10#$i % 16))"
  mkdir -p "$d"
  "$TARSCTL" -q keys encrypt --key "$WORK/old.key" "$WORK/plain" "$d/ckpt-$i.qtable"
done
sync

echo "== tarsctl keys rotate aes" >&2
start=$(date +%s.%N)
"$TARSCTL" -q keys rotate aes --old-key "$WORK/old.key" --new-key "$WORK/new.key" \
  --data-dir "$WORK/data" --yes --no-restart -o json >"$WORK/result.json"
end=$(date +%s.%N)

echo "== openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3" >&2
ossl1=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 2>/dev/null | awk 'tolower($1)=="aes-256-gcm" {v=$NF} END {sub(/k$/,"",v); print v*1000}')
osslN=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 -multi "$(nproc)" 2>/dev/null | awk 'tolower($1) ~ /^(evp|aes-256-gcm)/ {v=$NF} END {sub(/k$/,"",v); print v*1000}')

echo "== go test crypto/cipher -bench 'AESGCM/(Seal|Open)-256-8192\$'" >&2
gob=$(go test crypto/cipher -run '^$' -bench 'AESGCM/(Seal|Open)-256-8192$' -benchtime 2s -count 1 2>/dev/null |
  awk '/MB\/s/ {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}' | sort -n | head -1)

python3 - "$WORK/result.json" "$start" "$end" "$ossl1" "$osslN" "$gob" "$(nproc)" <<'PY'
import json, sys
# -o json: JSON Lines; the last one is {"type":"result",...}.
doc = [json.loads(l) for l in open(sys.argv[1]) if l.strip()][-1]
assert doc["type"] == "result", doc
wall = float(sys.argv[3]) - float(sys.argv[2])
ossl1, osslN, gob, ncpu = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]) * 1e6, sys.argv[7]
rot = doc["bytes_rewritten"] / doc["migrate_seconds"]
limit = min(ossl1, gob)
mb = lambda v: f"{v/1e6:8.1f} MB/s"
print(f"files re-encrypted            {doc['rewritten']} ({doc['bytes_rewritten']/2**20:.0f} MiB), verified {doc['verified']}")
print(f"tarsctl re-encryption         {mb(rot)}   (migrate {doc['migrate_seconds']:.2f} s; whole command {wall:.2f} s incl. scan and verify)")
print(f"openssl aes-256-gcm, 1 core   {mb(ossl1)}")
print(f"openssl aes-256-gcm, {ncpu} procs {mb(osslN)}")
print(f"Go AES-256-GCM (slower of Seal/Open 8 KiB), 1 core {mb(gob)}")
print(f"ratio to the lower 1-core limit  {rot/limit:.2f}  (goal >= 0.50)")
PY

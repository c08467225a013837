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
#   for their fsync; each file is read through a read-only mapping (no copy
#   out of the page cache) and written in 1 MiB batches.
#
#   bench/keys.sh                      # 1 GiB
#   SIZE_MIB=256 bench/keys.sh         # a quick one
#   KEEP=1 bench/keys.sh               # keep the work directory
#   TARSCTL=bin/tarsctl bench/keys.sh  # use this binary instead of building one
#   WORK=/dev/shm/x bench/keys.sh      # put the data elsewhere (default: a temp dir under TMPDIR);
#                                      # on tmpfs the figure is the CPU path alone, on a disk
#                                      # slower than the CPU it is the disk (see the dd line)
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

# The machine may be shared: each measurement runs ROUNDS times,
# interleaved, and the best of each is compared (a busy neighbour only
# ever makes a figure worse).
ROUNDS=${ROUNDS:-3}
go test -c -o "$WORK/cipher.test" crypto/cipher
from=old; to=new; ossl1=0; gob=0; start=0; end=0
for r in $(seq 1 "$ROUNDS"); do
  echo "== round $r/$ROUNDS: tarsctl keys rotate aes ($from → $to)" >&2
  s0=$(date +%s.%N)
  "$TARSCTL" -q keys rotate aes --old-key "$WORK/$from.key" --new-key "$WORK/$to.key" \
    --data-dir "$WORK/data" --yes --no-restart -o json >"$WORK/result-$r.json"
  s1=$(date +%s.%N)
  [ "$r" = 1 ] && { start=$s0; end=$s1; }
  tmp=$from; from=$to; to=$tmp
  echo "== round $r/$ROUNDS: openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3" >&2
  o=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 2>/dev/null | awk 'tolower($1)=="aes-256-gcm" {v=$NF} END {sub(/k$/,"",v); print v*1000}')
  ossl1=$(python3 -c "print(max($ossl1, $o))")
  echo "== round $r/$ROUNDS: go test crypto/cipher -bench 'AESGCM/(Seal|Open)-256-8192\$'" >&2
  g=$("$WORK/cipher.test" -test.run '^$' -test.bench 'AESGCM/(Seal|Open)-256-8192$' -test.benchtime 2s 2>/dev/null |
    awk '/MB\/s/ {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}' | sort -n | head -1)
  gob=$(python3 -c "print(max($gob, ${g:-0}))")
done
osslN=$(openssl speed -evp aes-256-gcm -bytes 16384 -seconds 3 -multi "$(nproc)" 2>/dev/null | awk 'tolower($1) ~ /^(evp|aes-256-gcm)/ {v=$NF} END {sub(/k$/,"",v); print v*1000}')

echo "== dd 512 MiB conv=fsync into $WORK (the disk's write limit)" >&2
ddbps=$(dd if=/dev/zero of="$WORK/dd.test" bs=1M count=512 conv=fsync 2>&1 | awk '/copied/ {print $(NF-1) * ($NF=="GB/s" ? 1e9 : $NF=="MB/s" ? 1e6 : $NF=="kB/s" ? 1e3 : 1)}')
rm -f "$WORK/dd.test"

python3 - "$WORK" "$start" "$end" "$ossl1" "$osslN" "$gob" "$(nproc)" "${ddbps:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
import glob
# -o json: JSON Lines; the last one is {"type":"result",...}. The best round.
docs = [[json.loads(l) for l in open(f) if l.strip()][-1] for f in glob.glob(sys.argv[1] + "/result-*.json")]
for d in docs:
    assert d["type"] == "result" and d["rewritten"] > 0, d
doc = max(docs, key=lambda d: d["bytes_rewritten"] / d["migrate_seconds"])
wall = float(sys.argv[3]) - float(sys.argv[2])
ossl1, osslN, gob, ncpu = float(sys.argv[4]), float(sys.argv[5]), float(sys.argv[6]) * 1e6, sys.argv[7]
rot = doc["bytes_rewritten"] / doc["migrate_seconds"]
limit = min(ossl1, gob)
mb = lambda v: f"{v/1e6:8.1f} MB/s"
print(f"files re-encrypted            {doc['rewritten']} ({doc['bytes_rewritten']/2**20:.0f} MiB), verified {doc['verified']}")
print(f"tarsctl re-encryption         {mb(rot)}   (best of {len(docs)} rounds: migrate {doc['migrate_seconds']:.2f} s; first whole command {wall:.2f} s incl. scan and verify)")
print(f"openssl aes-256-gcm, 1 core   {mb(ossl1)}   (best of {len(docs)})")
print(f"openssl aes-256-gcm, {ncpu} procs {mb(osslN)}")
print(f"Go AES-256-GCM (slower of Seal/Open 8 KiB), 1 core {mb(gob)}   (best of {len(docs)})")
dd = float(sys.argv[8])
if dd > 0:
    print(f"disk write, dd conv=fsync     {mb(dd)}   (re-encryption writes every byte and fsyncs: {rot/dd:.2f} of it)")
print(f"load average before the limits   {sys.argv[9]}")
print(f"ratio to the lower 1-core limit  {rot/limit:.2f}  (goal >= 0.50)")
PY

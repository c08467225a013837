#!/usr/bin/env bash
# Start-up cost of tarsctl as whole processes, next to an empty Go program
# built with the same toolchain (the floor no Go binary can beat).
#
#   bench/startup.sh            # builds both, runs hyperfine, prints medians
#   RUNS=500 bench/startup.sh
#
# Goal (issue "Foundation"): `tarsctl version` and `tarsctl --help` under
# 25 ms median; shell completion (`tarsctl __complete ...`) likewise.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-300}

if ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
  else
    echo "hyperfine not found: apt-get install hyperfine" >&2; exit 2
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
make -s build >/dev/null
cp bin/tarsctl "$work/tarsctl"
mkdir -p "$work/empty"
printf 'package main\n\nfunc main() {}\n' >"$work/empty/main.go"
printf 'module empty\n\ngo 1.26\n' >"$work/empty/go.mod"
(cd "$work/empty" && CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/empty-go" .)

hyperfine -N --warmup 30 --runs "$RUNS" --export-json "$work/startup.json" \
  -n 'empty Go program' "$work/empty-go" \
  -n 'tarsctl version' "$work/tarsctl version" \
  -n 'tarsctl --help' "$work/tarsctl --help" \
  -n 'tarsctl __complete (completion)' "$work/tarsctl __complete config s" \
  >/dev/null 2>"$work/hyperfine.err"

python3 - "$work/startup.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
floor = res[0]["median"]
print(f"{'command':34} {'median':>9} {'mean±σ':>16} {'vs empty':>9}")
worst = 0.0
for r in res:
    med = r["median"] * 1000
    print(f"{r['command']:34} {med:7.2f}ms {r['mean']*1000:7.2f}±{r['stddev']*1000:5.2f}ms {r['median']/floor:8.2f}x")
    if r is not res[0]:
        worst = max(worst, med)
print(f"slowest tarsctl median: {worst:.2f} ms (goal < 25 ms): {'OK' if worst < 25 else 'OVER'}")
sys.exit(0 if worst < 25 else 1)
PY

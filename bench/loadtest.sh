#!/usr/bin/env bash
# Throughput of `tarsctl loadtest run` next to hey and wrk, in one run,
# against the same trivial Go HTTP server on loopback, all at 100
# connections; then tarsctl's memory over a longer run.
#
#   bench/loadtest.sh                       # 3 rounds of 10 s per tool, then a 120 s memory run
#   SECONDS_PER_RUN=30 ROUNDS=5 bench/loadtest.sh
#   MEM_SECONDS=0 bench/loadtest.sh         # skip the memory run
#
# Goals (issue "Load tests"): tarsctl's requests/s at least hey's and at
# least 70% of wrk's; its CPU time per request reported; memory flat over a
# long run. The tools take turns in each round and the median of the rounds
# is compared, so a noisy neighbour on the machine hits all of them alike.
# Exits 1 when a goal is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-100}
MEM_SECONDS=${MEM_SECONDS:-120}

need=()
command -v hey >/dev/null || need+=(hey)
command -v wrk >/dev/null || need+=(wrk)
[ -x /usr/bin/time ] || need+=(time)
command -v python3 >/dev/null || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]} (apt-get install ${need[*]})" >&2; exit 2
  fi
fi

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

echo "building tarsctl and the trivial server..." >&2
CGO_ENABLED=0 go build -trimpath -o "$work/tarsctl" ./cmd/tarsctl

# The trivial server: net/http, a 3-byte body, nothing else. It lives here
# rather than in the tree so the benchmark needs no extra package.
mkdir -p "$work/server"
cat >"$work/server/main.go" <<'EOF'
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
)

func main() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	body := []byte("ok\n")
	_ = http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	}))
}
EOF
printf 'module trivialserver\n\ngo 1.26\n' >"$work/server/go.mod"
(cd "$work/server" && CGO_ENABLED=0 go build -trimpath -o "$work/trivial-server" .)

"$work/trivial-server" >"$work/addr" &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/addr" ] && break; sleep 0.05; done
addr=$(cat "$work/addr")
url="http://$addr/"
echo "server on $url; $ROUNDS rounds of ${SECONDS_PER_RUN}s per tool at $CONNS connections on $(nproc) CPUs" >&2

# Each run appends "tool rps cpu_seconds requests" to results.
results="$work/results"
: >"$results"
cpu_of() { awk '{print $1 + $2}' "$1"; }

run_hey() {
  /usr/bin/time -o "$work/t" -f "%U %S" hey -c "$CONNS" -z "${SECONDS_PER_RUN}s" "$url" >"$work/hey.out"
  local rps total
  rps=$(awk '/Requests\/sec:/ {print $2}' "$work/hey.out")
  total=$(awk -v r="$rps" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "%d", r * s}')
  echo "hey $rps $(cpu_of "$work/t") $total" >>"$results"
}
run_wrk() {
  /usr/bin/time -o "$work/t" -f "%U %S" wrk -t "$(nproc)" -c "$CONNS" -d "${SECONDS_PER_RUN}s" "$url" >"$work/wrk.out"
  local rps total
  rps=$(awk '/Requests\/sec:/ {print $2}' "$work/wrk.out")
  total=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  echo "wrk $rps $(cpu_of "$work/t") $total" >>"$results"
}
run_tarsctl() {
  /usr/bin/time -o "$work/t" -f "%U %S" "$work/tarsctl" loadtest run --url "$url" \
    --concurrency "$CONNS" --duration "${SECONDS_PER_RUN}s" -q --output-json "$work/tarsctl.json" >/dev/null
  python3 - "$work/tarsctl.json" "$(cpu_of "$work/t")" >>"$results" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
s = r["summary"]
print("tarsctl", s["throughput_rps"], sys.argv[2], s["requests"], r["generator"]["cpu_per_request_us"], s["failed"])
PY
}

for round in $(seq "$ROUNDS"); do
  echo "round $round/$ROUNDS" >&2
  run_hey
  run_wrk
  run_tarsctl
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for r in rows:
    by.setdefault(r[0], []).append(r)
med = {}
print(f"{'tool':8} {'req/s (median)':>15} {'rounds':>30} {'CPU µs/request':>15}")
for tool in ("hey", "wrk", "tarsctl"):
    rs = by[tool]
    rps = [float(r[1]) for r in rs]
    cpu = [float(r[2]) * 1e6 / max(1, int(float(r[3]))) for r in rs]
    med[tool] = statistics.median(rps)
    rounds = " ".join(f"{v:.0f}" for v in rps)
    print(f"{tool:8} {med[tool]:15.0f} {rounds:>30} {statistics.median(cpu):15.1f}")
own = [float(r[4]) for r in by["tarsctl"]]
failed = sum(int(r[5]) for r in by["tarsctl"])
print(f"tarsctl's own report: {statistics.median(own):.1f} µs CPU per request (getrusage), {failed} failed requests")
h = med["tarsctl"] / med["hey"]
w = med["tarsctl"] / med["wrk"]
print(f"tarsctl/hey = {h:.2f} (goal >= 1.00): {'OK' if h >= 1 else 'BELOW'}")
print(f"tarsctl/wrk = {w:.2f} (goal >= 0.70): {'OK' if w >= 0.7 else 'BELOW'}")
open(sys.argv[1] + ".verdict", "w").write("ok" if h >= 1 and w >= 0.7 and failed == 0 else "below")
PY
verdict=$(cat "$results.verdict")

if [ "$MEM_SECONDS" -gt 0 ]; then
  # Memory: resident set size every 10 s of a long open-loop run. It must
  # not grow with the number of requests sent.
  echo "memory: ${MEM_SECONDS}s open-loop run at 5000 req/s, RSS sampled every 10s" >&2
  "$work/tarsctl" loadtest run --url "$url" --rate 5000 --concurrency "$CONNS" --duration "${MEM_SECONDS}s" -q \
    --output-json "$work/mem.json" >/dev/null &
  pid=$!
  samples=()
  while kill -0 "$pid" 2>/dev/null; do
    sleep 10
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$rss" ] && samples+=("$rss")
  done
  wait "$pid"
  python3 - "$work/mem.json" "${samples[@]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
kib = [int(v) for v in sys.argv[2:]]
print("RSS MiB every 10s: " + " ".join(f"{v/1024:.1f}" for v in kib))
print(f"requests: {r['summary']['requests']}, first sample {kib[0]/1024:.1f} MiB, last {kib[-1]/1024:.1f} MiB, max {max(kib)/1024:.1f} MiB")
# Flat: after the first sample (warm-up), the last is within 10% of the first.
later = kib[1:] or kib
growth = (later[-1] - later[0]) / later[0]
print(f"growth after warm-up: {growth*100:+.1f}% (goal: flat, within 10%): {'OK' if growth <= 0.10 else 'GROWING'}")
open(sys.argv[1] + ".verdict", "w").write("ok" if growth <= 0.10 else "growing")
PY
  [ "$(cat "$work/mem.json.verdict")" = ok ] || verdict=below
fi

[ "$verdict" = ok ]

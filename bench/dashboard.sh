#!/usr/bin/env bash
# Throughput and latency of the dashboard API, with wrk, against a real
# Redis with rate limiting on (limit set high so nothing is refused), next
# to a trivial Go net/http handler measured in the same run: the machine's
# ceiling. Reports req/s, p99, the ratios to the ceiling and idle RSS.
#
#   bench/dashboard.sh                # 10 s per target, 50 connections
#   DURATION=30s CONNS=50 bench/dashboard.sh
#   OLD_BIN=/tmp/old-tarsctl ROUNDS=3 bench/dashboard.sh
#
# OLD_BIN, a tarsctl built from another commit, runs its dashboard-api
# beside this tree's (same Redis, its own database number and home) and
# measures its GET /api/agents in the same run, so a change can be
# compared with what it replaces on the same machine at the same moment.
# ROUNDS repeats the measurements, alternating the targets, and reports
# each one's median (the machine may be shared: alternate, do not batch).
#
# Goals (issue "Service daemons I"): /health >= 60% of the ceiling, an
# authenticated, rate-limited GET /api/agents >= 30%, p99 < 10 ms for
# both, idle RSS < 40 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-50}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-1}
OLD_BIN=${OLD_BIN:-}
if [ -n "$OLD_BIN" ] && [ ! -x "$OLD_BIN" ]; then echo "OLD_BIN=$OLD_BIN is not an executable" >&2; exit 2; fi

need() {
  command -v "$1" >/dev/null && return
  if [ "$(id -u)" = 0 ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
  else echo "$1 not found: apt-get install $2" >&2; exit 2; fi
}
need wrk wrk
need redis-server redis-server
need curl curl

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
waitfor() { for _ in $(seq 1 600); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 0.05; done; echo "timed out waiting for $1" >&2; cat "$work"/*.log >&2 2>/dev/null; exit 1; }

go build -o "$work/tarsctl" ./cmd/tarsctl

# The ceiling: a trivial handler that writes a small JSON body.
mkdir -p "$work/trivial"
cat >"$work/trivial/main.go" <<'GO'
package main

import (
	"net/http"
	"os"
)

func main() {
	body := []byte(`{"status":"ok"}` + "\n")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
	http.ListenAndServe(os.Args[1], nil)
}
GO
printf 'module trivial\n\ngo 1.26\n' >"$work/trivial/go.mod"
(cd "$work/trivial" && go build -o "$work/trivial-server" .)

rport=$(freeport); tport=$(freeport); aport=$(freeport); oport=$(freeport)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
"$work/trivial-server" "127.0.0.1:$tport" & pids+=($!)
serve_api() { # binary port home redis-db log
  "$1" serve dashboard-api --profile local --port "$2" \
    --set paths.home="$3" --set log_level=WARNING \
    --set redis.enabled=true --set redis.host=127.0.0.1 --set redis.port="$rport" --set redis.db="$4" \
    --set auth.enabled=true --set auth.rbac=true \
    --set rate_limiting.requests_per_minute=1000000000 --set rate_limiting.login_requests_per_minute=1000 \
    2>"$5" &
}
login() { # port home
  local pw
  pw=$(cat "$2/secrets/admin_password")
  curl -fsS -X POST "http://127.0.0.1:$1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"admin\",\"password\":\"$pw\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
serve_api "$work/tarsctl" "$aport" "$work/home" 0 "$work/api.log"
apid=$!; pids+=($apid)
if [ -n "$OLD_BIN" ]; then serve_api "$OLD_BIN" "$oport" "$work/old-home" 1 "$work/old-api.log"; pids+=($!); fi
waitfor "http://127.0.0.1:$tport/"
waitfor "http://127.0.0.1:$aport/ready"
[ -z "$OLD_BIN" ] || waitfor "http://127.0.0.1:$oport/ready"
sleep 1
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/$apid/status")

token=$(login "$aport" "$work/home")
[ -z "$OLD_BIN" ] || old_token=$(login "$oport" "$work/old-home")

run() { # name url [header]
  local out
  if [ $# -ge 3 ]; then out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency -H "$3" "$2")
  else out=$(wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$2"); fi
  local rps p99 non2xx
  rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out"); non2xx=${non2xx:-0}
  echo "$1 $rps $p99 $non2xx"
}

results=$(
  for i in $(seq 1 "$ROUNDS"); do
    run ceiling "http://127.0.0.1:$tport/"
    run health "http://127.0.0.1:$aport/health"
    # The two binaries take turns going first, so neither always runs
    # right after the same neighbour.
    if [ -n "$OLD_BIN" ] && [ $((i % 2)) -eq 0 ]; then
      run old-agents "http://127.0.0.1:$oport/api/agents" "Authorization: Bearer $old_token"
      run agents "http://127.0.0.1:$aport/api/agents" "Authorization: Bearer $token"
    else
      run agents "http://127.0.0.1:$aport/api/agents" "Authorization: Bearer $token"
      [ -z "$OLD_BIN" ] || run old-agents "http://127.0.0.1:$oport/api/agents" "Authorization: Bearer $old_token"
    fi
  done
)
load_rss=$(awk '/VmRSS/ {print $2}' "/proc/$apid/status")

python3 - "$idle_rss" "$load_rss" "$CONNS" "$DURATION" "$ROUNDS" "$OLD_BIN" <<PY
import statistics, sys
idle, load, conns, dur, rounds, old_bin = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
def ms(s):
    for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if s.endswith(unit): return float(s[:-len(unit)]) * f
    return float(s)
# Each round measures every target once; a target's figures are the
# medians over the rounds, and its ratio is to the median ceiling.
runs = {}
for l in """$results""".strip().splitlines():
    name, rps, p99, bad = l.split()
    runs.setdefault(name, []).append((float(rps), ms(p99), int(bad)))
med = {n: (statistics.median(r for r, _, _ in v), statistics.median(p for _, p, _ in v), sum(b for _, _, b in v)) for n, v in runs.items()}
ceiling = med["ceiling"][0]
goals = {"health": 0.60, "agents": 0.30}
ok = True
print(f"wrk -t2 -c{conns} -d{dur} on loopback, {rounds} round(s), medians; dashboard-api with real Redis, rate limiting on")
print(f"{'target':34} {'req/s':>10} {'p99':>9} {'vs ceiling':>11} {'non-2xx':>8}")
names = {"ceiling": "trivial net/http (ceiling)", "health": "GET /health", "agents": "GET /api/agents (JWT+RL)",
         "old-agents": "OLD_BIN GET /api/agents (JWT+RL)"}
for name in [n for n in names if n in runs]:
    rps, p99, bad = med[name]
    r = rps / ceiling
    goal = goals.get(name)
    mark = ""
    if goal is not None:
        good = r >= goal and p99 < 10 and bad == 0
        ok &= good
        mark = f"  goal >= {goal:.0%}, p99 < 10ms: {'OK' if good else 'MISSED'}"
    print(f"{names[name]:34} {rps:10.0f} {p99:7.2f}ms {r:10.0%} {bad:>8}{mark}")
if rounds > 1:
    for name in [n for n in names if n in runs]:
        print(f"  {name}: req/s per round " + " ".join(f"{r:.0f}" for r, _, _ in runs[name]))
if old_bin:
    print(f"GET /api/agents, this tree / OLD_BIN ({old_bin}): {med['agents'][0] / med['old-agents'][0]:.2f}x req/s")
print(f"dashboard-api RSS: idle {idle/1024:.1f} MiB (goal < 40 MiB: {'OK' if idle < 40*1024 else 'MISSED'}), after load {load/1024:.1f} MiB")
sys.exit(0 if ok and idle < 40*1024 else 1)
PY

#!/usr/bin/env bash
# Supply-chain figures (issue 5), as whole processes with hyperfine:
#
#   1. SBOM of this repository in both formats (CycloneDX + SPDX), from a
#      warm module cache. Goal: under 0.5 s (the runbook's Python took 60-90 s).
#   2. SLSA provenance for a 1 GiB artifact, next to `sha256sum` on the same
#      file, page cache warm for both. Goal: within 1.3x of sha256sum.
#
#   bench/sbom.sh               # builds tarsctl, prints means and ratios
#   RUNS=20 SIZE_MIB=1024 bench/sbom.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-10}
SIZE_MIB=${SIZE_MIB:-1024}

if ! command -v hyperfine >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null
  else
    echo "hyperfine not found: apt-get install hyperfine" >&2; exit 2
  fi
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$work/tarsctl" ./cmd/tarsctl
export SOURCE_DATE_EPOCH=1764288000

mean() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"])' "$@"; }

echo "== SBOM of $(pwd) (CycloneDX 1.7 + SPDX 2.3)"
hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$work/sbom.json" \
  "$work/tarsctl sbom generate . --output-dir $work/sbom --name tars --version v1.0.2 -q" >/dev/null
sbom=$(mean "$work/sbom.json" 0)
"$work/tarsctl" sbom validate "$work"/sbom/*.json -q
printf 'sbom generate: %.3f s mean over %d runs (goal < 0.5 s): %s\n' "$sbom" "$RUNS" \
  "$(python3 -c "print('ok' if $sbom < 0.5 else 'OVER')")"

echo "== provenance for a ${SIZE_MIB} MiB artifact vs sha256sum"
head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$work/artifact.tar.gz"
cat "$work/artifact.tar.gz" >/dev/null # warm the page cache
hyperfine -N --warmup 1 --runs "$RUNS" --export-json "$work/prov.json" \
  "sha256sum $work/artifact.tar.gz" \
  "$work/tarsctl slsa generate $work/artifact.tar.gz --output $work/p.json --builder-id https://bench.example -q" >/dev/null
sum=$(mean "$work/prov.json" 0)
prov=$(mean "$work/prov.json" 1)
printf 'sha256sum:     %.3f s mean\nslsa generate: %.3f s mean\nratio:         %.2fx (goal <= 1.3x): %s\n' "$sum" "$prov" \
  "$(python3 -c "print($prov / $sum)")" "$(python3 -c "print('ok' if $prov / $sum <= 1.3 else 'OVER')")"

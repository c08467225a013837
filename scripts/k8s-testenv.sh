#!/usr/bin/env bash
# k8s-testenv.sh runs a throw-away Kubernetes control plane on 127.0.0.1 for
# the deploy tests: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler and kwok (which plays the kubelet: it marks a fake node Ready
# and pods Running, so Deployments become Available without containers).
#
#   k8s-testenv.sh build      build the binaries once into $K8S_TESTENV_BIN
#   k8s-testenv.sh up DIR     start a control plane whose state lives in DIR;
#                             writes DIR/kubeconfig and DIR/pids
#   k8s-testenv.sh down DIR   stop it (reverse order, one process at a time)
#
# Everything is built from the Go module proxy (no downloads from elsewhere),
# and cached outside the repository: ~20 minutes and ~420 MB the first time,
# nothing after that. Ports come from the environment so that several control
# planes can run at once (internal/testenv picks free ones):
#   ETCD_PORT ETCD_PEER_PORT APISERVER_PORT KCM_PORT SCHEDULER_PORT KWOK_PORT
# Needs: go, openssl, curl. See shared notes: k8s-test-plane.md for the facts.
set -euo pipefail

KV=1.37.2     # kube-apiserver, kube-controller-manager, kube-scheduler
SV=0.37.2     # the k8s.io staging modules that go with it
EV=v3.7.3     # etcd: Debian's 3.4 makes watches (and so rollouts) ~10x slower
KWOK=v0.8.0
BIN=${K8S_TESTENV_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/tarsctl-k8s-testenv/$KV}

die() { echo "k8s-testenv: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install it (apt-get install -y $2)"; }

built() { [ -x "$BIN/kube-apiserver" ] && [ -x "$BIN/kube-controller-manager" ] && [ -x "$BIN/kube-scheduler" ] &&
	[ -x "$BIN/etcd" ] && [ -x "$BIN/kwok" ] && [ -d "$BIN/kwok-stage" ]; }

build() {
	built && { echo "k8s-testenv: binaries cached in $BIN"; return 0; }
	need go golang
	echo "k8s-testenv: building Kubernetes $KV, etcd $EV and kwok $KWOK into $BIN (once; ~20 min)" >&2
	local work; work=$(mktemp -d); trap 'rm -rf "$work"' RETURN
	mkdir -p "$BIN.tmp"
	(
		cd "$work" && export GOFLAGS=-mod=mod
		printf 'module testenv/k8s\ngo 1.26.0\nrequire k8s.io/kubernetes v%s\n' "$KV" > go.mod
		# k8s.io/kubernetes replaces its staging modules with ./staging paths;
		# a consumer has to replace each with its published v0.x version.
		local gomod m
		gomod=$(go mod download -json "k8s.io/kubernetes@v$KV" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
		for m in $(sed -n '/^replace (/,/^)/p' "$gomod" | grep -o 'k8s.io/[a-z-]*' | grep -v sample-c | sort -u); do
			go mod edit -replace="$m=$m@v$SV"
		done
		printf '//go:build tools\npackage tools\nimport (\n_ "k8s.io/kubernetes/cmd/kube-apiserver"\n_ "k8s.io/kubernetes/cmd/kube-controller-manager"\n_ "k8s.io/kubernetes/cmd/kube-scheduler"\n)\n' > tools.go
		go mod tidy
		# Without the version stamp the server reports v0.0.0-master, which
		# breaks Helm's kubeVersion checks.
		local X=k8s.io/component-base/version
		go build -trimpath -ldflags "-s -w -X $X.gitVersion=v$KV -X $X.gitMajor=${KV%%.*} -X $X.gitMinor=$(echo "$KV" | cut -d. -f2)" \
			-o "$BIN.tmp/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
		mkdir etcd && cd etcd
		printf 'module testenv/etcd\ngo 1.26.0\nrequire go.etcd.io/etcd/server/v3 %s\n' "$EV" > go.mod
		go build -trimpath -ldflags "-s -w" -o "$BIN.tmp/etcd" go.etcd.io/etcd/server/v3
		GOBIN="$BIN.tmp" GOFLAGS= go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK"
		rm -rf "$BIN.tmp/kwok-stage"
		cp -r "$(go env GOMODCACHE)/sigs.k8s.io/kwok@$KWOK/kustomize/stage" "$BIN.tmp/kwok-stage"
		chmod -R u+w "$BIN.tmp/kwok-stage"
	)
	rm -rf "$BIN" && mv "$BIN.tmp" "$BIN"
	echo "k8s-testenv: built into $BIN" >&2
}

# api GET/POST a path on the apiserver as the admin client certificate.
api() {
	local method=$1 path=$2; shift 2
	curl -sf --max-time 5 --cacert "$P/ca.crt" --cert "$P/admin.crt" --key "$P/admin.key" \
		-X "$method" -H 'Content-Type: application/json' "https://127.0.0.1:$APISERVER_PORT$path" "$@"
}

wait_for() { # wait_for SECONDS WHAT COMMAND...
	local secs=$1 what=$2 i; shift 2
	for ((i = 0; i < secs * 4; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
	die "$what not ready after ${secs}s; logs in $ROOT/log"
}

up() {
	need openssl openssl; need curl curl
	built || build
	: "${ETCD_PORT:=2379}" "${ETCD_PEER_PORT:=2380}" "${APISERVER_PORT:=6443}" "${KCM_PORT:=10257}" "${SCHEDULER_PORT:=10259}" "${KWOK_PORT:=10247}"
	mkdir -p "$ROOT/pki" "$ROOT/log"
	P=$ROOT/pki
	[ -f "$P/sa.key" ] || { # CA, admin client cert (system:masters), serving cert, service-account key pair
		openssl genrsa -out "$P/sa.key" 2048 && openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub"
		openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 30 -subj /CN=tarsctl-test-ca
		openssl req -newkey rsa:2048 -nodes -keyout "$P/admin.key" -out "$P/admin.csr" -subj /O=system:masters/CN=admin
		openssl x509 -req -in "$P/admin.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -out "$P/admin.crt" -days 30
		openssl req -newkey rsa:2048 -nodes -keyout "$P/srv.key" -out "$P/srv.csr" -subj /CN=kube-apiserver
		openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -out "$P/srv.crt" -days 30 \
			-extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth')
	} >/dev/null 2>&1
	KC=$ROOT/kubeconfig
	cat > "$KC" <<KCEOF
apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster: {server: "https://127.0.0.1:$APISERVER_PORT", certificate-authority: "$P/ca.crt"}
users:
- name: admin
  user: {client-certificate: "$P/admin.crt", client-key: "$P/admin.key"}
contexts:
- name: testenv
  context: {cluster: testenv, user: admin}
current-context: testenv
KCEOF
	rm -rf "$ROOT/etcd-data"; : > "$ROOT/pids"
	start etcd "$BIN/etcd" --data-dir="$ROOT/etcd-data" --listen-client-urls="http://127.0.0.1:$ETCD_PORT" \
		--advertise-client-urls="http://127.0.0.1:$ETCD_PORT" --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
		--initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" \
		--unsafe-no-fsync --log-level=warn
	start apiserver "$BIN/kube-apiserver" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --bind-address=127.0.0.1 \
		--secure-port="$APISERVER_PORT" --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
		--tls-cert-file="$P/srv.crt" --tls-private-key-file="$P/srv.key" --client-ca-file="$P/ca.crt" \
		--service-account-issuer=https://kubernetes.default.svc --service-account-key-file="$P/sa.pub" \
		--service-account-signing-key-file="$P/sa.key" --service-cluster-ip-range=10.0.0.0/24 \
		--authorization-mode=RBAC --allow-privileged=true
	wait_for 120 kube-apiserver api GET /readyz
	start kcm "$BIN/kube-controller-manager" --kubeconfig="$KC" --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
		--leader-elect=false --service-account-private-key-file="$P/sa.key" --root-ca-file="$P/ca.crt"
	start scheduler "$BIN/kube-scheduler" --kubeconfig="$KC" --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" --leader-elect=false
	local s=$BIN/kwok-stage f
	for f in node/fast/node-initialize node/heartbeat-with-lease/node-heartbeat-with-lease \
		pod/general/pod-{create,init-container-running,init-container-completed,ready,complete,delete}; do
		echo ---; cat "$s/$f.yaml"
	done | fast_stages > "$ROOT/kwok-stages.yaml"
	start kwok "$BIN/kwok" -c "$ROOT/kwok-stages.yaml" --kubeconfig="$KC" --manage-all-nodes=false \
		--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake --cidr=10.244.0.0/16 --node-ip=10.244.0.1 \
		--node-lease-duration-seconds=40 --server-address="127.0.0.1:$KWOK_PORT"
	api POST /api/v1/nodes -o /dev/null -d '{"apiVersion":"v1","kind":"Node","metadata":{"name":"kwok-node-0",
		"annotations":{"kwok.x-k8s.io/node":"fake"},"labels":{"kubernetes.io/hostname":"kwok-node-0","kubernetes.io/os":"linux"}},
		"status":{"allocatable":{"cpu":"32","memory":"256Gi","pods":"110"},"capacity":{"cpu":"32","memory":"256Gi","pods":"110"}}}' ||
		die "could not register the fake node"
	wait_for 90 "the fake node" node_ready
	wait_for 60 "the default service account" api GET /api/v1/namespaces/default/serviceaccounts/default
	echo "KUBECONFIG=$KC"
}

# fast_stages shortens kwok's pod stages for tests: a pod is created and
# ready within ~0.5 s instead of 1-6 s, and a deleted pod goes at once rather
# than after its grace period (30 s by default), so a rolling restart of a
# few replicas takes seconds.
fast_stages() {
	sed -e 's/durationMilliseconds: 1000$/durationMilliseconds: 100/' \
		-e 's/jitterDurationMilliseconds: 5000$/jitterDurationMilliseconds: 400/' \
		-e '/jitterDurationFrom:/{N;/deletionTimestamp/d;}'
}

node_ready() { api GET /api/v1/nodes/kwok-node-0 | tr -d ' \n' | grep -q '"type":"Ready","status":"True"'; }

start() { local name=$1; shift; nohup "$@" > "$ROOT/log/$name.log" 2>&1 & echo $! >> "$ROOT/pids"; }

down() {
	[ -f "$ROOT/pids" ] || return 0
	local p i
	# One at a time: killing everything at once leaves the apiserver retrying etcd.
	for p in $(tac "$ROOT/pids"); do
		kill "$p" 2>/dev/null || continue
		for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -9 "$p" 2>/dev/null || true
	done
	rm -f "$ROOT/pids"
}

case "${1:-}" in
build) build ;;
up) ROOT=${2:?usage: k8s-testenv.sh up DIR}; up ;;
down) ROOT=${2:?usage: k8s-testenv.sh down DIR}; down ;;
bin) echo "$BIN" ;;
*) die "usage: k8s-testenv.sh build | up DIR | down DIR | bin" ;;
esac

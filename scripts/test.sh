#!/usr/bin/env bash
# Runs everything glidepath's tests need, then the checks: gofmt, go vet,
# staticcheck (pinned) and go test -race over every module.
#
# On Debian as root it installs missing system packages (the prometheus
# server used by the real-Prometheus tests). Elsewhere it says what to
# install; those tests skip when the binary is missing, except under CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK_VERSION=v0.8.2
GOBIN_DIR="$(go env GOPATH)/bin"

need_pkgs=()
command -v prometheus >/dev/null 2>&1 || need_pkgs+=(prometheus)
if ((${#need_pkgs[@]})); then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "==> installing ${need_pkgs[*]} (Debian packages)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null
		# The package may start a server of its own; the tests start theirs.
		if command -v service >/dev/null 2>&1; then service prometheus stop >/dev/null 2>&1 || true; fi
		pkill -x prometheus >/dev/null 2>&1 || true
	else
		echo "==> missing: ${need_pkgs[*]} (Debian: apt-get install ${need_pkgs[*]});" \
			"the tests that need them will skip (and fail under CI=true)"
	fi
fi

# --- etcd (rollback/etcdstore) ---------------------------------------------
# The etcd store's tests start Debian's etcd-server (3.4) on loopback ports;
# the package's own service, if it starts one, is stopped.
if ! command -v etcd >/dev/null 2>&1 && [[ ! -x /usr/bin/etcd ]]; then
	if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; then
		echo "==> installing etcd-server (Debian package)"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null
		apt-get install -y -qq --no-install-recommends etcd-server >/dev/null
		if command -v service >/dev/null 2>&1; then service etcd stop >/dev/null 2>&1 || true; fi
		if command -v systemctl >/dev/null 2>&1; then systemctl stop etcd >/dev/null 2>&1 || true; fi
		pkill -x etcd >/dev/null 2>&1 || true
	else
		echo "==> missing: etcd-server (Debian: apt-get install etcd-server);" \
			"the etcd store's tests will skip (and fail under CI=true)"
	fi
fi
# --- end etcd ----------------------------------------------------------------

if [[ ! -x "$GOBIN_DIR/staticcheck" ]] || ! "$GOBIN_DIR/staticcheck" -version 2>/dev/null | grep -q "${STATICCHECK_VERSION#v}"; then
	echo "==> installing staticcheck $STATICCHECK_VERSION"
	(cd / && GOFLAGS= go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION")
fi

# ---- Kubernetes (the kubernetes/ module) --------------------------------------
# The kubernetes module's tests run against a real control plane on loopback
# (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok), built
# once from the Go module proxy into ~/.cache/k8s-local/bin (85 minutes cold
# on 2 busy cores, then reused) and started by scripts/k8s-cluster.sh just
# before that module's tests, stopped right after them and on any exit. With
# GLIDEPATH_KUBECONFIG already set, that cluster is used instead.
k8s_started=0
k8s_cluster_up() {
	[[ -n ${GLIDEPATH_KUBECONFIG:-} ]] && return 0
	echo "==> starting the Kubernetes test cluster (scripts/k8s-cluster.sh up)"
	if scripts/k8s-cluster.sh up; then
		k8s_started=1
		GLIDEPATH_KUBECONFIG=$(scripts/k8s-cluster.sh kubeconfig)
		export GLIDEPATH_KUBECONFIG
	else
		echo "==> the Kubernetes test cluster did not start; its tests skip (and fail under CI=true)"
	fi
}
k8s_cluster_down() {
	if ((k8s_started)); then
		scripts/k8s-cluster.sh down || true
		k8s_started=0
		unset GLIDEPATH_KUBECONFIG
	fi
}
trap k8s_cluster_down EXIT
# ---- end Kubernetes -------------------------------------------------------------

status=0
for mod in $(find . -name go.mod -not -path "./.git/*" -printf '%h\n' | sort); do
	echo "==> module $mod"
	if [[ $mod == ./kubernetes ]]; then k8s_cluster_up; fi # Kubernetes block
	(
		cd "$mod"
		unformatted=$(gofmt -l .)
		if [[ -n $unformatted ]]; then
			echo "gofmt: these files need formatting:"; echo "$unformatted"; exit 1
		fi
		echo "--> go vet"; go vet ./...
		echo "--> staticcheck"; "$GOBIN_DIR/staticcheck" ./...
		echo "--> go test -race"; go test -race -count=1 ./...
	) || status=1
	if [[ $mod == ./kubernetes ]]; then k8s_cluster_down; fi # Kubernetes block
done
# --- cross-builds ------------------------------------------------------------
# glidepath is embedded in other programs: it must build (and vet) wherever
# they build. The file store locks with flock on Unix, LockFileEx on Windows.
# The kubernetes module is left out: it is plain Go over client-go, which
# builds everywhere, and compiling client-go three more times would cost most
# of CI's time.
for target in windows/amd64 darwin/arm64 linux/arm64; do
	echo "==> cross-build $target"
	for mod in $(find . -name go.mod -not -path "./.git/*" -not -path "./kubernetes/*" -printf '%h\n' | sort); do
		(
			cd "$mod"
			GOOS=${target%/*} GOARCH=${target#*/} go build ./... &&
				GOOS=${target%/*} GOARCH=${target#*/} go vet ./...
		) || { echo "cross-build $target failed in $mod"; status=1; }
	done
done
# --- end cross-builds --------------------------------------------------------

exit $status

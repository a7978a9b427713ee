#!/usr/bin/env bash
# A real Kubernetes control plane on loopback for glidepath's kubernetes module:
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, and kwok, which
# plays the nodes and kubelets so that pods become ready without containers.
# Everything is built from the Go module proxy; nothing is downloaded otherwise.
#
#   scripts/k8s-cluster.sh build              build the binaries unless the cache has these versions
#   scripts/k8s-cluster.sh up                 build if needed, start the cluster, install the Gateway API CRDs
#   scripts/k8s-cluster.sh down               stop the cluster and remove its state
#   scripts/k8s-cluster.sh kubeconfig         print the kubeconfig path
#   scripts/k8s-cluster.sh restart-apiserver  stop kube-apiserver and start it again (fault tests)
#
# Binaries are cached outside the repository in $K8S_BIN (default
# $HOME/.cache/k8s-local/bin). A cached binary is reused when the Go build
# information embedded in it names the versions below; otherwise it is rebuilt.
# A cold build took 85 minutes on 2 cores shared with other work (load average
# 25-45); `up` then takes about 12 seconds.
#
# The cluster listens on 127.0.0.1 only, on ports chosen away from the usual ones
# (etcd 2379, Prometheus 9090, the sketch's 23790/16443) so that it coexists with
# other tests' servers, and below Linux's ephemeral range (32768-60999), where an
# outgoing connection of another test can hold a port at any moment (42380 once
# was, and etcd could not bind it); override with the variables below.
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-v1.34.4}
ETCD_VERSION=${ETCD_VERSION:-v3.6.17} # Debian's etcd 3.4 lacks the watch progress requests kwok 0.8 needs
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
GATEWAY_API_VERSION=${GATEWAY_API_VERSION:-v1.4.1}

K8S_CACHE=${K8S_CACHE:-$HOME/.cache/k8s-local}
K8S_BIN=${K8S_BIN:-$K8S_CACHE/bin}
K8S_SRC=${K8S_SRC:-$K8S_CACHE/src}
K8S_WORK=${K8S_WORK:-${TMPDIR:-/tmp}/glidepath-k8s}
K8S_ETCD_PORT=${K8S_ETCD_PORT:-29379}
K8S_ETCD_PEER_PORT=${K8S_ETCD_PEER_PORT:-29380}
K8S_API_PORT=${K8S_API_PORT:-29443}
K8S_KWOK_PORT=${K8S_KWOK_PORT:-29247}
K8S_TOKEN=${K8S_TOKEN:-glidepath-test-admin}

say() { echo "k8s-cluster: $*" >&2; }

# has_version BIN MODULE VERSION: the binary's build information names MODULE at VERSION.
has_version() {
	[[ -x $1 ]] && go version -m "$1" 2>/dev/null | awk -v m="$2" -v v="$3" '($1 == "dep" || $1 == "mod") && $2 == m && $3 == v {f = 1} END {exit !f}'
}

cached() {
	local c
	for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
		has_version "$K8S_BIN/$c" k8s.io/kubernetes "$K8S_VERSION" || return 1
	done
	has_version "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3 "$ETCD_VERSION" || return 1
	has_version "$K8S_BIN/kwok" sigs.k8s.io/kwok "$KWOK_VERSION" || return 1
}

build() {
	if cached; then
		say "binaries for kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION are cached in $K8S_BIN"
		return 0
	fi
	mkdir -p "$K8S_BIN" "$K8S_SRC"
	exec 9>"$K8S_CACHE/build.lock"
	flock 9 # one build at a time; a second caller waits, then finds the cache filled
	if cached; then return 0; fi
	local start=$SECONDS
	say "building kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION into $K8S_BIN (long: 85 minutes measured on 2 busy cores)"
	build_kubernetes
	build_etcd
	GOBIN="$K8S_BIN" GOFLAGS= go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
	cached || { say "built, but the binaries do not report the expected versions"; return 1; }
	say "built in $((SECONDS - start))s"
}

# k8s.io/kubernetes cannot be built with `go install`: its go.mod replaces the
# staging modules (k8s.io/api, k8s.io/client-go, ...) with directories in its
# own tree. A small module that requires it and replaces each staging module
# with its published v0.X.Y release builds the commands instead.
build_kubernetes() {
	local dir="$K8S_SRC/kubernetes-$K8S_VERSION" staging="v0.${K8S_VERSION#v1.}"
	local minor=${K8S_VERSION#v1.}
	minor=${minor%%.*}
	mkdir -p "$dir"
	(
		cd "$dir"
		export GOFLAGS=
		local modfile
		modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | awk -F'"' '$2 == "GoMod" {print $4}')
		{
			printf 'module glidepath.local/k8sbuild\n\ngo 1.24.0\n\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$K8S_VERSION"
			awk -v v="$staging" '$2 == "=>" && $3 ~ /^\.\/staging\// {printf "\t%s => %s %s\n", $1, $1, v}' "$modfile"
			printf ')\n'
		} >go.mod
		cat >deps.go <<-EOF
			//go:build never

			package deps

			import (
			_ "k8s.io/kubernetes/cmd/kube-apiserver"
			_ "k8s.io/kubernetes/cmd/kube-controller-manager"
			_ "k8s.io/kubernetes/cmd/kube-scheduler"
			_ "k8s.io/kubernetes/cmd/kubectl"
			)
		EOF
		go mod tidy
		local ld="-s -w" pkg c
		for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
			ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean"
		done
		for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
			go build -trimpath -ldflags "$ld" -o "$K8S_BIN/$c" "k8s.io/kubernetes/cmd/$c"
		done
	)
}

# go.etcd.io/etcd/server/v3 also replaces its sibling modules with relative
# paths, so it is built through a module of its own too.
build_etcd() {
	local dir="$K8S_SRC/etcd-$ETCD_VERSION"
	mkdir -p "$dir"
	(
		cd "$dir"
		export GOFLAGS=
		printf 'module glidepath.local/etcdbuild\n\ngo 1.26.0\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD_VERSION" >go.mod
		printf '//go:build never\n\npackage deps\n\nimport _ "go.etcd.io/etcd/server/v3"\n' >deps.go
		go mod tidy
		go build -trimpath -ldflags "-s -w" -o "$K8S_BIN/etcd" go.etcd.io/etcd/server/v3
	)
}

# poll DESCRIPTION SECONDS COMMAND...: run COMMAND every 0.2s until it succeeds.
poll() {
	local what=$1 secs=$2 i
	shift 2
	for ((i = 0; i < secs * 5; i++)); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.2
	done
	say "timed out after ${secs}s waiting for $what (logs in $K8S_WORK)"
	return 1
}

# launch NAME COMMAND...: start a component in the background, logging to
# $K8S_WORK/NAME.log, its pid in $K8S_WORK/NAME.pid.
launch() {
	local name=$1
	shift
	"$@" >>"$K8S_WORK/$name.log" 2>&1 &
	echo $! >"$K8S_WORK/$name.pid"
}

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

kc() { KUBECONFIG="$K8S_WORK/kubeconfig" "$K8S_BIN/kubectl" "$@"; }

start_apiserver() {
	launch apiserver "$K8S_BIN/kube-apiserver" \
		--etcd-servers="http://127.0.0.1:$K8S_ETCD_PORT" \
		--bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$K8S_API_PORT" \
		--cert-dir="$K8S_WORK/pki" --token-auth-file="$K8S_WORK/tokens.csv" --authorization-mode=RBAC \
		--service-account-key-file="$K8S_WORK/sa.key" --service-account-signing-key-file="$K8S_WORK/sa.key" \
		--service-account-issuer=https://kubernetes.default.svc.cluster.local \
		--service-cluster-ip-range=10.96.0.0/16 --endpoint-reconciler-type=none --allow-privileged=true
	poll kube-apiserver 120 curl -skf -H "Authorization: Bearer $K8S_TOKEN" "https://127.0.0.1:$K8S_API_PORT/readyz" || return 1
}

up() {
	build
	if [[ -f $K8S_WORK/apiserver.pid ]] && kill -0 "$(cat "$K8S_WORK/apiserver.pid")" 2>/dev/null; then
		say "already up: export KUBECONFIG=$K8S_WORK/kubeconfig"
		return 0
	fi
	local p
	for p in "$K8S_ETCD_PORT" "$K8S_ETCD_PEER_PORT" "$K8S_API_PORT" "$K8S_KWOK_PORT"; do
		port_free "$p" || { say "port 127.0.0.1:$p is in use; set the K8S_*_PORT variables"; return 1; }
	done
	local start=$SECONDS
	rm -rf "$K8S_WORK"
	mkdir -p "$K8S_WORK"
	local stages
	stages=$(GOFLAGS= go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | awk -F'"' '$2 == "Dir" {print $4}')/kustomize/stage
	openssl genrsa -out "$K8S_WORK/sa.key" 2048 2>/dev/null
	echo "$K8S_TOKEN,admin,admin,system:masters" >"$K8S_WORK/tokens.csv"
	cat >"$K8S_WORK/kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: glidepath
		  cluster: {server: "https://127.0.0.1:$K8S_API_PORT", insecure-skip-tls-verify: true}
		users:
		- name: admin
		  user: {token: $K8S_TOKEN}
		contexts:
		- name: glidepath
		  context: {cluster: glidepath, user: admin}
		current-context: glidepath
	EOF
	write_kwok_config "$stages" >"$K8S_WORK/kwok.yaml"

	launch etcd "$K8S_BIN/etcd" --name glidepath --data-dir "$K8S_WORK/etcd" \
		--listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
		--initial-cluster "glidepath=http://127.0.0.1:$K8S_ETCD_PEER_PORT" --unsafe-no-fsync --log-level warn
	# `up` runs on the left of ||, where set -e does not stop it: each step that
	# can fail says so itself.
	poll etcd 30 curl -sf "http://127.0.0.1:$K8S_ETCD_PORT/health" || return 1
	start_apiserver || return 1

	local kubeconfig="$K8S_WORK/kubeconfig"
	launch controller-manager "$K8S_BIN/kube-controller-manager" --kubeconfig="$kubeconfig" \
		--authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
		--leader-elect=false --bind-address=127.0.0.1 --secure-port=0 \
		--service-account-private-key-file="$K8S_WORK/sa.key" --root-ca-file="$K8S_WORK/pki/apiserver.crt" \
		--service-cluster-ip-range=10.96.0.0/16
	launch scheduler "$K8S_BIN/kube-scheduler" --kubeconfig="$kubeconfig" \
		--authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
		--leader-elect=false --bind-address=127.0.0.1 --secure-port=0
	launch kwok "$K8S_BIN/kwok" --kubeconfig="$kubeconfig" --config="$K8S_WORK/kwok.yaml" \
		--server-address="127.0.0.1:$K8S_KWOK_PORT"

	kc apply -f - >/dev/null <<-'EOF'
		apiVersion: v1
		kind: Node
		metadata:
		  name: kwok-node-0
		  annotations: {node.alpha.kubernetes.io/ttl: "0", kwok.x-k8s.io/node: fake}
		  labels: {kubernetes.io/arch: amd64, kubernetes.io/os: linux, kubernetes.io/hostname: kwok-node-0, type: kwok}
		status:
		  allocatable: {cpu: "64", memory: 256Gi, pods: "250"}
		  capacity: {cpu: "64", memory: 256Gi, pods: "250"}
		  nodeInfo: {architecture: amd64, operatingSystem: linux, kubeletVersion: fake, kubeProxyVersion: fake}
	EOF
	local crds
	crds=$(GOFLAGS= go mod download -json "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION" | awk -F'"' '$2 == "Dir" {print $4}')/config/crd/standard
	kc apply --server-side -f "$crds" >/dev/null || return 1
	kc wait --for=condition=Established crd --all --timeout=60s >/dev/null || return 1
	kc wait --for=condition=Ready node/kwok-node-0 --timeout=60s >/dev/null || return 1
	# Pods need the default ServiceAccount, which the controller manager creates.
	poll "the default ServiceAccount" 60 kc get serviceaccount default -n default || return 1
	say "up in $((SECONDS - start))s: export KUBECONFIG=$kubeconfig"
}

# write_kwok_config STAGES: kwok's configuration: fast node and pod stages from
# kwok's module, plus one stage of glidepath's own: a pod labelled
# glidepath.dev/never-ready=true starts running but never becomes ready (a
# readiness probe that always fails). Stages with a weight win over kwok's
# unweighted pod-ready stage.
write_kwok_config() {
	local stages=$1 f
	cat <<-EOF
		apiVersion: config.kwok.x-k8s.io/v1alpha1
		kind: KwokConfiguration
		options:
		  manageAllNodes: false
		  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
		  cidr: 10.244.0.0/16
		  nodeIP: 10.0.0.1
		  nodeLeaseDurationSeconds: 40
		  nodeLeaseParallelism: 4
		  podPlayStageParallelism: 4
		  nodePlayStageParallelism: 4
	EOF
	for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
		pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
		echo "---"
		cat "$stages/$f"
	done
	cat <<-'EOF'
		---
		apiVersion: kwok.x-k8s.io/v1alpha1
		kind: Stage
		metadata:
		  name: glidepath-pod-never-ready
		spec:
		  resourceRef: {apiGroup: v1, kind: Pod}
		  selector:
		    matchExpressions:
		    - {key: '.metadata.labels["glidepath.dev/never-ready"]', operator: In, values: ["true"]}
		    - {key: '.metadata.deletionTimestamp', operator: DoesNotExist}
		    - {key: '.status.phase', operator: In, values: [Pending]}
		  weight: 10000
		  next:
		    statusTemplate: |
		      {{ $now := Now }}
		      phase: Running
		      startTime: {{ $now | Quote }}
		      conditions:
		      - {type: Initialized, status: "True", lastTransitionTime: {{ $now | Quote }}}
		      - {type: Ready, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
		      - {type: ContainersReady, status: "False", reason: ContainersNotReady, lastTransitionTime: {{ $now | Quote }}}
		      containerStatuses:
		      {{ range .spec.containers }}
		      - name: {{ .name | Quote }}
		        image: {{ .image | Quote }}
		        ready: false
		        started: true
		        restartCount: 0
		        state: {running: {startedAt: {{ $now | Quote }}}}
		      {{ end }}
	EOF
}

# stop NAME...: SIGTERM the components, wait up to 10s, then SIGKILL.
stop() {
	local n pids=() p
	for n in "$@"; do
		if [[ -f $K8S_WORK/$n.pid ]]; then pids+=("$(cat "$K8S_WORK/$n.pid")"); fi
	done
	((${#pids[@]})) || return 0
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for ((i = 0; i < 100; i++)); do
		local alive=0
		for p in "${pids[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; fi; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
	for n in "$@"; do rm -f "$K8S_WORK/$n.pid"; done
}

down() {
	stop kwok scheduler controller-manager apiserver etcd
	rm -rf "$K8S_WORK"
}

restart_apiserver() {
	stop apiserver
	start_apiserver
}

case ${1:-up} in
build) build ;;
up) up || {
	say "the cluster did not come up; stopping what started"
	down
	exit 1
} ;;
down) down ;;
kubeconfig) echo "$K8S_WORK/kubeconfig" ;;
restart-apiserver) restart_apiserver ;;
*)
	say "usage: $0 build|up|down|kubeconfig|restart-apiserver"
	exit 2
	;;
esac

# shellcheck shell=bash
# Variables from scripts/testenv: HERE ROOT CACHE_ROOT bin dir (and die, log, sha).
# shellcheck disable=SC2153,SC2154
# The real node of `testenv up --real-node` (see docs/reference/real-node.md):
# Debian's containerd and runc, the CNI bridge, host-local and portmap
# plugins, kubelet and kube-proxy from the test control plane's `kube`
# binary, the local-path provisioner from its Go module, and
# cluster-dns-standin (OUR STAND-IN for k3s's CoreDNS: it answers only
# SERVICE.NAMESPACE.svc.cluster.local). Sourced by scripts/testenv/testenv.
#
# The node changes this machine while it runs: kube-proxy writes iptables
# rules, the CNI plugin adds a bridge, veths, network namespaces and turns on
# IPv4 forwarding, containerd and the kubelet mount overlays, tmpfs and
# binds. `down` removes all of it (realnode_drain, realnode_cleanup). Only one
# real node runs on a machine at a time (REALNODE_OWNER).

REAL_NODE_NAME=hakube-real-node
LOCAL_PATH_VERSION=v0.0.30
REALNODE_BRIDGE=hakube-cni0
REALNODE_SUBNET=10.42.0.0/24
REALNODE_GATEWAY=10.42.0.1
REALNODE_OWNER=/run/hakube-testenv-real-node.owner

install_local_path() {
	local gobin="$bin/.local-path-gobin"
	GOBIN=$gobin go install -trimpath -ldflags "-s -w" "github.com/rancher/local-path-provisioner@$LOCAL_PATH_VERSION" &&
		mv "$gobin/local-path-provisioner" "$1" && rmdir "$gobin"
}

# realnode_check_host fails with the fix when this machine lacks something.
realnode_check_host() {
	local t
	[[ $(id -u) == 0 ]] || die "--real-node needs root (containerd, iptables, network namespaces)"
	for t in containerd containerd-shim-runc-v2 runc ctr iptables iptables-save ip6tables ip curl; do
		command -v "$t" >/dev/null || die "--real-node needs $t: apt-get install -y containerd runc iptables iproute2 curl containernetworking-plugins busybox"
	done
	for t in bridge host-local portmap loopback; do
		[[ -x /usr/lib/cni/$t ]] || die "--real-node needs the CNI plugin /usr/lib/cni/$t: apt-get install -y containernetworking-plugins"
	done
	[[ -x /bin/busybox ]] || die "--real-node needs /bin/busybox: apt-get install -y busybox"
}

# realnode_lock DIR makes DIR the one real node of this machine.
realnode_lock() {
	local dir=$1 owner
	if ! (set -o noclobber && echo "$dir" >"$REALNODE_OWNER") 2>/dev/null; then
		owner=$(cat "$REALNODE_OWNER" 2>/dev/null || true)
		if [[ -n $owner && $owner != "$dir" && -f $owner/pids ]] && grep -q ' kubelet$\| containerd$' "$owner/pids"; then
			fail_with setup "another real node runs on this machine ($owner): one at a time (its iptables rules and bridge are global); stop it with: $SELF down $owner"
		fi
		echo "$dir" >"$REALNODE_OWNER"
	fi
}

realnode_unlock() {
	[[ $(cat "$REALNODE_OWNER" 2>/dev/null) != "$1" ]] || rm -f "$REALNODE_OWNER"
}

ctrn() { ctr --address "$dir/node/containerd.sock" --namespace k8s.io "$@"; }

# realnode_up DIR IMAGES_DIR PORT*5: starts the node's processes, imports the
# images and waits until the node is Ready and the provisioner runs.
realnode_up() {
	local dir=$1 images=$2 kubelet_port=$3 kubelet_healthz=$4 proxy_healthz=$5 proxy_metrics=$6 stream_port=$7
	local node=$dir/node t0=$SECONDS
	realnode_check_host
	realnode_lock "$dir"
	mkdir -p "$node"/{cni,cni-ipam,kubelet,kubelet-pki,containerd,containerd-state,containerd-opt} "$dir/local-path"
	# Settings the node changes on this machine, restored by `down`.
	if [[ ! -f $node/sysctl.before ]]; then
		local k
		for k in net.ipv4.ip_forward net.ipv4.conf.all.route_localnet; do
			echo "$k=$(sysctl -n "$k")"
		done >"$node/sysctl.before"
	fi

	# The bridge exists before the first pod, so the DNS stand-in can listen on
	# its gateway address; the CNI bridge plugin takes it over as it is.
	ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1 || ip link add "$REALNODE_BRIDGE" type bridge ||
		fail_with setup "cannot create bridge $REALNODE_BRIDGE"
	ip addr replace "$REALNODE_GATEWAY/24" dev "$REALNODE_BRIDGE"
	ip link set "$REALNODE_BRIDGE" up

	cat >"$node/cni/10-hakube.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "hakube-testenv",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$REALNODE_BRIDGE",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$node/cni-ipam",
        "ranges": [[{"subnet": "$REALNODE_SUBNET", "gateway": "$REALNODE_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
	cat >"$node/containerd.toml" <<EOF
version = 2
root = "$node/containerd"
state = "$node/containerd-state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$node/containerd.sock"
[ttrpc]
  address = "$node/containerd.ttrpc.sock"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$node/containerd-opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # This machine does not let a process lower its OOM score: without this
  # every sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "$stream_port"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node/cni"
    max_conf_num = 1
EOF
	: >"$node/resolv.conf"
	cat >"$node/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# The node's address is the bridge's gateway: a kubelet refuses a loopback
# node IP (the node then has no address, and the API server cannot reach it
# for logs and exec). The bridge exists only on this machine.
address: $REALNODE_GATEWAY
port: $kubelet_port
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $kubelet_healthz
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
containerRuntimeEndpoint: unix://$node/containerd.sock
# This machine has cgroup v1 and no systemd-managed cgroups for pods.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failSwapOn: false
localStorageCapacityIsolation: false
clusterDNS: [$REALNODE_GATEWAY]
clusterDomain: cluster.local
resolvConf: $node/resolv.conf
# Never garbage-collect the imported images: nothing could pull them back.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {}
mergeDefaultEvictionSettings: false
serializeImagePulls: false
maxPods: 110
EOF
	cat >"$node/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $dir/kubeconfig
hostnameOverride: $REAL_NODE_NAME
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:$proxy_healthz
metricsBindAddress: 127.0.0.1:$proxy_metrics
mode: iptables
clusterCIDR: 10.42.0.0/16
nodePortAddresses: ["127.0.0.0/8"]
conntrack:
  maxPerCore: 0
EOF
	local lp_config
	lp_config=$(sed -e "s|@STORAGE@|$dir/local-path|g" -e "s|@HELPER_IMAGE@|$HELPER_IMAGE|g" "$HERE/manifests/local-path.yaml")

	write_run "$dir" containerd containerd --config "$node/containerd.toml" --log-level warn
	write_run "$dir" cluster-dns-standin "$bin/cluster-dns-standin" --kubeconfig "$dir/kubeconfig" --listen "$REALNODE_GATEWAY:53"
	write_run "$dir" kubelet "$bin/kubelet" --config "$node/kubelet.yaml" --kubeconfig "$dir/kubeconfig" \
		--hostname-override "$REAL_NODE_NAME" --node-ip "$REALNODE_GATEWAY" --root-dir "$node/kubelet" \
		--cert-dir "$node/kubelet-pki" --v 1
	write_run "$dir" kube-proxy "$bin/kube-proxy" --config "$node/kube-proxy.yaml" --v 1
	write_run "$dir" local-path-provisioner "$bin/local-path-provisioner-$LOCAL_PATH_VERSION" --debug start \
		--kubeconfig "$dir/kubeconfig" --namespace kube-system --configmap-name local-path-config \
		--service-account-name local-path-provisioner-service-account \
		--provisioner-name rancher.io/local-path --helper-image "$HELPER_IMAGE"

	start_component "$dir" containerd
	wait_for containerd 30 "containerd to answer" ctrn version
	local f n=0 t1=$SECONDS
	for f in "$images"/*.tar; do
		ctrn images import --no-unpack=false "$f" >>"$dir/logs/images.log" 2>&1 ||
			fail_with images "importing $f into containerd failed"
		n=$((n + 1))
	done
	log "imported $n images in $((SECONDS - t1))s"
	start_component "$dir" cluster-dns-standin
	start_component "$dir" kubelet
	wait_for kubelet 90 "node $REAL_NODE_NAME to be Ready" kc wait --for=condition=Ready --timeout=1s "node/$REAL_NODE_NAME"
	start_component "$dir" kube-proxy
	kc apply --server-side --field-manager=testenv -f - <<<"$lp_config" >>"$dir/logs/setup.log" 2>&1 ||
		fail_with setup "applying the local-path provisioner's configuration failed"
	start_component "$dir" local-path-provisioner
	wait_for kube-proxy 60 "kube-proxy to be healthy" curl -fsS "http://127.0.0.1:$proxy_healthz/healthz"
	log "real node up in $((SECONDS - t0))s"
}

# realnode_drain DIR: while the API server and kubelet still run, deletes
# every pod so the kubelet stops them the regular way (CNI DEL removes each
# network namespace and veth; volumes are unmounted); then kills whatever
# containerd still runs.
realnode_drain() {
	local dir=$1 pid i
	[[ -f $dir/pids ]] || return 0
	bin=${bin:-$(dir_bin "$dir")}
	# Nothing may recreate pods meanwhile.
	for n in k3s-deploy-standin local-path-provisioner kube-controller-manager; do
		pid=$(pid_of "$dir" "$n")
		[[ -z $pid ]] || stop_pid "$dir" "$n" "$pid" || true
	done
	pid=$(pid_of "$dir" kubelet)
	if [[ -n $pid ]] && alive "$dir" "$pid" && kc get --raw /readyz >/dev/null 2>&1; then
		log "deleting every pod of the real node"
		kc delete pods --all --all-namespaces --grace-period=1 --wait=false >/dev/null 2>&1 || true
		for ((i = 0; i < 300; i++)); do
			[[ -n $(kc get pods -A -o name 2>/dev/null) ]] || break
			sleep 0.2
		done
		# The kubelet has deleted the API objects; give it a moment to tear
		# down the sandboxes (CNI DEL) of pods that were force-deleted.
		for ((i = 0; i < 150; i++)); do
			[[ -n $(ctrn tasks ls -q 2>/dev/null) ]] || break
			sleep 0.2
		done
	fi
	realnode_record_netns "$dir"
	if [[ -S $dir/node/containerd.sock ]] && ctrn version >/dev/null 2>&1; then
		local t
		for t in $(ctrn tasks ls -q 2>/dev/null); do
			log "killing container $t (left by the kubelet)"
			ctrn tasks kill -s KILL "$t" >/dev/null 2>&1 || true
		done
		for ((i = 0; i < 50; i++)); do
			[[ -n $(ctrn tasks ls 2>/dev/null | awk 'NR > 1 && $3 != "STOPPED"') ]] || break
			sleep 0.1
		done
		for t in $(ctrn tasks ls -q 2>/dev/null); do ctrn tasks rm -f "$t" >/dev/null 2>&1 || true; done
	fi
	return 0
}

# realnode_record_netns DIR notes the network namespaces of DIR's sandboxes,
# so cleanup can remove those (and only those) if CNI DEL never ran.
realnode_record_netns() {
	local dir=$1 c
	[[ -S $dir/node/containerd.sock ]] || return 0
	for c in $(ctrn containers ls -q 2>/dev/null); do
		ctrn containers info "$c" 2>/dev/null | grep -o '"/var/run/netns/cni-[^"]*"' | tr -d '"'
	done | sort -u >>"$dir/node/netns"
}

# realnode_cleanup DIR: after every process stopped, removes what the node
# left on this machine. Fails, listing it, if something could not be removed.
realnode_cleanup() {
	local dir=$1 left="" ns m pid
	bin=${bin:-$(dir_bin "$dir")}
	# Shims of our containerd (their command line names its socket).
	for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $dir/node/containerd.sock" || true); do
		log "killing containerd-shim $pid"
		kill -KILL "$pid" 2>/dev/null || true
	done
	log "removing kube-proxy's iptables rules (kube-proxy --cleanup)"
	"$bin/kube-proxy" --cleanup >>"$dir/logs/kube-proxy-cleanup.log" 2>&1 || left+=" kube-proxy --cleanup failed (see $dir/logs/kube-proxy-cleanup.log);"
	realnode_cleanup_chains
	local left_rules
	left_rules=$({ iptables-save; ip6tables-save; } 2>/dev/null | grep -E -- '(KUBE-|CNI-)' || true)
	[[ -z $left_rules ]] || left+=" iptables rules: $left_rules;"
	if [[ -f $dir/node/netns ]]; then
		while read -r ns; do
			[[ -n $ns && -e $ns ]] || continue
			log "removing network namespace $ns"
			umount "$ns" 2>/dev/null || true
			rm -f "$ns" 2>/dev/null || left+=" network namespace $ns;"
		done <"$dir/node/netns"
	fi
	# Mounts under DIR (overlays, tmpfs, binds), deepest first.
	while read -r m; do
		umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || left+=" mount $m;"
	done < <(awk -v d="$dir/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	if ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1; then
		ip link del "$REALNODE_BRIDGE" 2>/dev/null || left+=" bridge $REALNODE_BRIDGE;"
	fi
	if [[ -f $dir/node/sysctl.before ]]; then
		local kv
		while read -r kv; do sysctl -q -w "$kv" >/dev/null 2>&1 || left+=" sysctl $kv not restored;"; done <"$dir/node/sysctl.before"
	fi
	realnode_unlock "$dir"
	if [[ -n $left ]]; then
		log "WARNING: the real node left:$left"
		return 1
	fi
	log "real node cleaned up: no iptables rules, network namespaces, mounts or containers left"
}

# realnode_cleanup_chains removes the chains kube-proxy --cleanup leaves:
# the kubelet's own (KUBE-FIREWALL, KUBE-KUBELET-CANARY, KUBE-IPTABLES-HINT,
# in iptables and ip6tables) and the portmap plugin's (CNI-HOSTPORT-*),
# with every rule jumping to them.
realnode_cleanup_chains() {
	local cmd table chain rule
	for cmd in iptables ip6tables; do
		command -v "$cmd" >/dev/null || continue
		for table in filter nat mangle; do
			# Rules jumping to our chains first, then the chains.
			"$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-A" && / -j (KUBE-|CNI-)/ { $1 = "-D"; print }' |
				while read -r rule; do
					# shellcheck disable=SC2086 # a rule is words
					eval "$cmd -t $table $rule" 2>/dev/null || true
				done
			while read -r chain; do
				"$cmd" -t "$table" -F "$chain" 2>/dev/null || true
			done < <("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }')
			while read -r chain; do
				"$cmd" -t "$table" -X "$chain" 2>/dev/null || true
			done < <("$cmd" -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^(KUBE-|CNI-)/ { print $2 }')
		done
	done
}

# realnode_leftovers prints what a real node could have left on this machine
# (used by selftest and the tests after `down`): our processes, iptables
# rules, the bridge, network namespaces and mounts under DIR.
realnode_leftovers() {
	local dir=$1
	pgrep -af -- "$dir/" | grep -v -e "testenv" -e "pgrep" | sed 's/^/process: /' || true
	{ iptables-save; ip6tables-save; } 2>/dev/null | grep -E -- '(KUBE-|CNI-)' | sed 's/^/iptables: /' || true
	ip link show "$REALNODE_BRIDGE" >/dev/null 2>&1 && echo "bridge: $REALNODE_BRIDGE"
	if [[ -f $dir/node/netns ]]; then
		while read -r ns; do [[ -z $ns || ! -e $ns ]] || echo "netns: $ns"; done <"$dir/node/netns"
	fi
	awk -v d="$dir/" 'index($5, d) == 1 { print "mount: " $5 }' /proc/self/mountinfo
	return 0
}

# realnode_selftest DIR: a pod on a local-path claim, behind a NodePort,
# resolving a Service name, really runs; `down` then leaves nothing behind.
realnode_selftest() {
	local dir=$1 manifests=$1/data-dir/server/manifests got
	log "selftest: a pod with a claim, a NodePort and a DNS lookup on the real node"
	cat >"$manifests/.realnode.yaml.tmp" <<EOF
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: selftest, namespace: default}
spec:
  accessModes: [ReadWriteOnce]
  storageClassName: local-path
  resources: {requests: {storage: 1Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: selftest, namespace: default, labels: {app: selftest}}
spec:
  terminationGracePeriodSeconds: 1
  securityContext: {seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: web
    image: $HELPER_IMAGE
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo "hello from the real node" > /www/index.html && nslookup kubernetes.default.svc.cluster.local > /www/dns 2>&1; exec httpd -f -p 8080 -h /www']
    ports: [{name: http, containerPort: 8080}]
    readinessProbe: {httpGet: {path: /index.html, port: http}, periodSeconds: 1}
    volumeMounts: [{name: www, mountPath: /www}]
  volumes:
  - name: www
    persistentVolumeClaim: {claimName: selftest}
---
apiVersion: v1
kind: Service
metadata: {name: selftest, namespace: default}
spec:
  type: NodePort
  selector: {app: selftest}
  ports: [{port: 8080, targetPort: http, nodePort: 30999}]
EOF
	mv "$manifests/.realnode.yaml.tmp" "$manifests/realnode.yaml"
	wait_for kubelet 120 "pod default/selftest to be Ready" kc -n default wait --for=condition=Ready --timeout=1s pod/selftest
	wait_for kube-proxy 30 "NodePort 30999 to answer on 127.0.0.1" curl -fsS http://127.0.0.1:30999/index.html
	got=$(curl -fsS http://127.0.0.1:30999/index.html)
	[[ $got == "hello from the real node" ]] || fail_with kubelet "NodePort 30999 answered $got"
	got=$(curl -fsS http://127.0.0.1:30999/dns)
	[[ $got == *10.43.0.1* ]] || fail_with cluster-dns-standin "the pod did not resolve kubernetes.default: $got"
	compgen -G "$dir/local-path/pvc-*_default_selftest/index.html" >/dev/null ||
		fail_with local-path-provisioner "no volume directory for claim default/selftest under $dir/local-path"
	log "selftest: real node PASS (claim provisioned, NodePort answers, cluster DNS resolves); checking down"
	"$SELF" down "$dir"
	got=$(realnode_leftovers "$dir")
	[[ -z $got ]] || die "selftest: down left this behind:
$got"
	log "selftest: down left nothing behind"
}

# shellcheck shell=bash
# Variables from scripts/testenv: HERE ROOT CACHE_ROOT bin dir (and die, log, sha).
# shellcheck disable=SC2153,SC2154
# Images for the test environment's real node, built from what this machine
# has installed and written as OCI archives by `testenv-helper oci-image`.
# Sourced by scripts/testenv/testenv; `testenv images` builds them.
#
# Each image carries the EXACT name hakube renders (manifests/versions.go),
# so the kubelet finds it and never pulls:
#   real software:  Mosquitto (Debian), PostgreSQL (Debian's 15 under the
#                   name of the 16-alpine image hakube pins), Node-RED (npm,
#                   run by Debian/NodeSource's node), the HA image's python3
#                   and sqlite3 (Debian) for the backup job;
#   STAND-INS:      Home Assistant, ESPHome and Zigbee2MQTT run `standin-http`
#                   (scripts/testenv/standin), which answers their probes and
#                   nothing more; the pod sandbox image runs its `pause`.
# Every image has Debian's dash as /bin/sh, busybox-static for the other
# commands, and GNU install, tar, gzip and find: the Alpine BusyBox of the
# real images has options (install, tar --exclude, find -delete) Debian's
# static BusyBox lacks, and its ash would run its own applets first.
#
# The set is cached by content: IMAGES_KEY hashes this file, the stand-in's
# sources, the Debian package versions and the Node-RED version.

NODERED_VERSION=4.1.8
PAUSE_IMAGE=hakube.test/testenv/pause-standin:1
HELPER_IMAGE=hakube.test/testenv/busybox:debian
# Package versions that change what the images hold.
IMAGE_PACKAGES="dash busybox-static busybox mosquitto postgresql-15 nodejs libpython3.11-stdlib python3.11-minimal sqlite3 coreutils tar findutils gzip libc6"

# hakube_image KEY prints the image hakube renders for KEY on this machine's
# architecture (manifests.Versions, through testenv-helper).
hakube_image() {
	local ref
	ref=$("$bin/testenv-helper" image-refs | awk -v k="$1" '$1 == k { print $2 }')
	[[ -n $ref ]] || die "manifests.Versions has no image $1"
	echo "$ref"
}

images_key() {
	{
		go env GOVERSION GOARCH
		cat "$HERE/images.sh" "$ROOT/manifests/versions.go" "$ROOT/go.sum"
		find "$HERE/standin" "$HERE/helper" -name '*.go' -not -name '*_test.go' -print0 | sort -z | xargs -0 cat
		# shellcheck disable=SC2086 # one argument per package
		dpkg-query -W $IMAGE_PACKAGES 2>&1
		echo "node-red $NODERED_VERSION"
	} | sha
}

# ---- root file system pieces

# rootfs_libs ROOT FILE...: copies the shared libraries ldd lists for each
# FILE (and the dynamic loader) to the same paths under ROOT.
rootfs_libs() {
	local root=$1 f lib
	shift
	for f in "$@"; do
		while read -r lib; do
			[[ -n $lib && -e $lib ]] || continue
			[[ -e $root$lib ]] || cp -L --parents "$lib" "$root/"
		done < <(ldd "$f" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
	done
}

# rootfs_bin ROOT FILE...: copies each program to the same path, with its libraries.
rootfs_bin() {
	local root=$1 f
	shift
	for f in "$@"; do
		[[ -e $f ]] || die "image: $f is missing (apt-get install the package that has it)"
		cp -L --parents "$f" "$root/"
	done
	rootfs_libs "$root" "$@"
}

# rootfs_base ROOT: busybox as /bin/sh, GNU tools, passwd and group files
# with the users hakube's pods run as.
rootfs_base() {
	local root=$1 a
	mkdir -p "$root"/{bin,etc,root,tmp,usr/bin,usr/sbin,usr/local/bin,var/run,var/tmp,dev,proc,sys}
	chmod 1777 "$root/tmp" "$root/var/tmp"
	# Debian's busybox-static or busybox (dynamic): either, with its libraries.
	rootfs_bin "$root" /bin/busybox
	for a in $(/bin/busybox --list); do
		[[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
	done
	rootfs_bin "$root" /usr/bin/install /usr/bin/tar /usr/bin/gzip /usr/bin/find /usr/bin/dash
	# Debian's static BusyBox ash runs its own applets before anything on
	# PATH: sh is dash, so the GNU tools above are the ones scripts get.
	ln -sfn /usr/bin/dash "$root/bin/sh"
	cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
postgres:x:70:70:PostgreSQL:/var/lib/postgresql:/bin/sh
node-red:x:1000:1000:Node-RED:/usr/src/node-red:/bin/sh
mosquitto:x:1883:1883:Mosquitto:/var/empty:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
EOF
	cat >"$root/etc/group" <<'EOF'
root:x:0:
postgres:x:70:
node-red:x:1000:
mosquitto:x:1883:
nogroup:x:65534:
EOF
	printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$root/etc/nsswitch.conf"
	printf '127.0.0.1 localhost\n::1 localhost\n' >"$root/etc/hosts"
}

# rootfs_standin ROOT: the stand-in program as standin-http and pause.
rootfs_standin() {
	cp "$bin/standin" "$1/usr/local/bin/standin-http"
	ln -f "$1/usr/local/bin/standin-http" "$1/usr/local/bin/pause"
}

PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
STANDIN_LABEL="org.opencontainers.image.description=STAND-IN built by scripts/testenv: standin-http answers the probes, it is not the real program"
REAL_LABEL="org.opencontainers.image.description=built by scripts/testenv from this machine's packages"

# ---- the images (each: image_NAME ROOT OUT)

image_pause() {
	mkdir -p "$1"
	cp "$bin/standin" "$1/pause"
	"$bin/testenv-helper" oci-image --out "$2" --name "$PAUSE_IMAGE" --rootfs "$1" \
		--entrypoint '["/pause"]' --label "$STANDIN_LABEL"
}

image_busybox() {
	rootfs_base "$1"
	"$bin/testenv-helper" oci-image --out "$2" --name "$HELPER_IMAGE" --rootfs "$1" \
		--env "$PATH_ENV" --cmd '["sh"]' --label "$REAL_LABEL"
}

# standin_image NAME COMPONENT PORT...: busybox, GNU tools and standin-http.
standin_image() {
	local root=$1 out=$2 name=$3 component=$4 ports
	shift 4
	rootfs_base "$root"
	rootfs_standin "$root"
	ports=$(printf ',"%s"' "$@")
	"$bin/testenv-helper" oci-image --out "$out" --name "$name" --rootfs "$root" --env "$PATH_ENV" \
		--entrypoint "[\"/usr/local/bin/standin-http\",\"--name\",\"$component\"$ports]" --label "$STANDIN_LABEL"
}

# Home Assistant: a stand-in answering on 8123, plus the real python3 (with
# sqlite3) the backup CronJob runs in this image.
image_home_assistant() {
	local root=$1 so
	mkdir -p "$root"
	rootfs_bin "$root" /usr/bin/python3.11
	ln -s python3.11 "$root/usr/bin/python3"
	mkdir -p "$root/usr/lib"
	(cd /usr/lib && tar -cf - --exclude=python3.11/test --exclude=python3.11/idlelib --exclude=python3.11/tkinter \
		--exclude=python3.11/turtledemo --exclude=python3.11/ensurepip --exclude=python3.11/lib2to3 \
		--exclude=python3.11/config-3.11-x86_64-linux-gnu --exclude=python3.11/dist-packages python3.11) |
		tar -C "$root/usr/lib" -xf -
	for so in "$root"/usr/lib/python3.11/lib-dynload/*.so; do
		rootfs_libs "$root" "/usr/lib/python3.11/lib-dynload/${so##*/}"
	done
	mkdir -p "$root/usr/share"
	cp -a /usr/share/zoneinfo "$root/usr/share/"
	standin_image "$root" "$2" "$(hakube_image home-assistant)" home-assistant 8123
}

image_esphome() { standin_image "$1" "$2" "$(hakube_image esphome)" esphome 6052; }
image_zigbee2mqtt() { standin_image "$1" "$2" "$(hakube_image zigbee2mqtt)" zigbee2mqtt 8080; }

image_mosquitto() {
	local root=$1
	rootfs_base "$root"
	rootfs_bin "$root" /usr/sbin/mosquitto
	mkdir -p "$root"/mosquitto/{config,data,log}
	chown -R 1883:1883 "$root/mosquitto"
	"$bin/testenv-helper" oci-image --out "$2" --name "$(hakube_image mosquitto)" --rootfs "$root" --env "$PATH_ENV" \
		--cmd '["/usr/sbin/mosquitto","-c","/mosquitto/config/mosquitto.conf"]' --label "$REAL_LABEL"
}

# PostgreSQL: Debian's 15 under the name of the image hakube pins, with an
# entrypoint doing what the official image's does for the variables and the
# /docker-entrypoint-initdb.d directory hakube's StatefulSet uses.
image_postgresql() {
	local root=$1 f
	rootfs_base "$root"
	mkdir -p "$root/usr/lib/postgresql" "$root/usr/share/postgresql"
	cp -a /usr/lib/postgresql/15 "$root/usr/lib/postgresql/"
	cp -a /usr/share/postgresql/15 "$root/usr/share/postgresql/"
	rm -rf "$root/usr/share/postgresql/15/man"
	mkdir -p "$root/usr/share"
	cp -a /usr/share/zoneinfo "$root/usr/share/"
	for f in "$root"/usr/lib/postgresql/15/bin/* "$root"/usr/lib/postgresql/15/lib/*.so; do
		[[ -f $f ]] || continue
		rootfs_libs "$root" "${f#"$root"}"
		[[ $f != */bin/* ]] || ln -sf "/usr/lib/postgresql/15/bin/${f##*/}" "$root/usr/local/bin/${f##*/}"
	done
	mkdir -p "$root/var/lib/postgresql/data" "$root/var/run/postgresql" "$root/docker-entrypoint-initdb.d"
	chown -R 70:70 "$root/var/lib/postgresql" "$root/var/run/postgresql"
	chmod 1777 "$root/var/lib/postgresql/data"
	chmod 3777 "$root/var/run/postgresql"
	cat >"$root/usr/local/bin/docker-entrypoint.sh" <<'EOF'
#!/bin/sh
# The official postgres image's entrypoint, reduced to what hakube uses:
# POSTGRES_USER, POSTGRES_PASSWORD, POSTGRES_DB, PGDATA and the scripts in
# /docker-entrypoint-initdb.d, run once on an empty data directory.
set -eu
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
	set -- postgres "$@"
fi
if [ "$1" = postgres ]; then
	: "${PGDATA:=/var/lib/postgresql/data}"
	: "${POSTGRES_USER:=postgres}"
	: "${POSTGRES_DB:=$POSTGRES_USER}"
	mkdir -p "$PGDATA"
	chmod 700 "$PGDATA"
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		if [ -z "${POSTGRES_PASSWORD:-}" ]; then
			echo "error: database is uninitialized and POSTGRES_PASSWORD is not set" >&2
			exit 1
		fi
		pwfile=$(mktemp)
		printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
		initdb --username="$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C -D "$PGDATA"
		rm -f "$pwfile"
		echo "listen_addresses = '*'" >>"$PGDATA/postgresql.conf"
		echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
		pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -c unix_socket_directories=/var/run/postgresql" -w start
		if [ "$POSTGRES_DB" != postgres ]; then
			psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname postgres \
				-c "CREATE DATABASE \"$POSTGRES_DB\""
		fi
		for f in /docker-entrypoint-initdb.d/*; do
			case "$f" in
			*.sh) echo "running $f"; . "$f" ;;
			*.sql) echo "running $f"; psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname "$POSTGRES_DB" -f "$f" ;;
			*.sql.gz) echo "running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --dbname "$POSTGRES_DB" ;;
			*) [ ! -e "$f" ] || echo "ignoring $f" ;;
			esac
		done
		pg_ctl -D "$PGDATA" -m fast -w stop
		echo "PostgreSQL init process complete; ready for start up."
	fi
fi
exec "$@"
EOF
	chmod 0755 "$root/usr/local/bin/docker-entrypoint.sh"
	"$bin/testenv-helper" oci-image --out "$2" --name "$(hakube_image postgresql)" --rootfs "$root" \
		--env "$PATH_ENV" --env PGDATA=/var/lib/postgresql/data \
		--entrypoint '["docker-entrypoint.sh"]' --cmd '["postgres"]' --user 70 --label "$REAL_LABEL"
}

# Node-RED from npm, run by this machine's node, laid out as the official
# image: /usr/src/node-red, user 1000, --userDir /data.
image_nodered() {
	local root=$1 app
	rootfs_base "$root"
	rootfs_bin "$root" /usr/bin/node
	ln -s node "$root/usr/bin/nodejs"
	app=$root/usr/src/node-red
	mkdir -p "$app"
	printf '{"name":"node-red-docker","private":true}\n' >"$app/package.json"
	(cd "$app" && npm install --no-audit --no-fund --omit=dev --prefer-offline --loglevel=error "node-red@$NODERED_VERSION" >&2) ||
		die "image: npm install node-red@$NODERED_VERSION failed"
	rm -rf "$app/.npm"
	chown -R 1000:1000 "$app"
	cat >"$root/usr/src/node-red/entrypoint.sh" <<'EOF'
#!/bin/sh
# As the official image's entrypoint: Node-RED with its user directory /data.
# shellcheck disable=SC2086
exec node $NODE_OPTIONS node_modules/node-red/red.js --userDir /data $FLOWS "$@"
EOF
	chmod 0755 "$root/usr/src/node-red/entrypoint.sh"
	"$bin/testenv-helper" oci-image --out "$2" --name "$(hakube_image nodered)" --rootfs "$root" \
		--env "$PATH_ENV" --env NODE_RED_VERSION="v$NODERED_VERSION" --env FLOWS=flows.json --env NODE_OPTIONS= \
		--env NODE_PATH=/usr/src/node-red/node_modules:/data/node_modules --env HOME=/usr/src/node-red \
		--workdir /usr/src/node-red --user 1000 --entrypoint '["./entrypoint.sh"]' --label "$REAL_LABEL"
}

IMAGES=(pause busybox home_assistant esphome zigbee2mqtt mosquitto postgresql nodered)

# build_images prints the directory holding every image archive, building
# the set unless it is cached under its content key.
build_images() {
	local dir
	dir="$CACHE_ROOT/images/$(images_key)"
	if [[ -f $dir/complete ]]; then
		touch "$dir/complete" # last use, for pruning
		echo "$dir"
		return 0
	fi
	local t
	for t in npm ldd dash /bin/busybox; do
		command -v "$t" >/dev/null || die "image: $t is needed: apt-get install -y npm libc-bin dash busybox"
	done
	local start=$SECONDS stage="$CACHE_ROOT/images/.stage-$$" i
	rm -rf "$dir" "$stage"
	mkdir -p "$dir" "$stage"
	for i in "${IMAGES[@]}"; do
		log "building image $i"
		"image_$i" "$stage/$i" "$dir/$i.tar" || die "building image $i failed"
		rm -rf "${stage:?}/$i"
	done
	rmdir "$stage"
	touch "$dir/complete"
	log "built ${#IMAGES[@]} images in $((SECONDS - start))s ($(du -sh "$dir" | cut -f1))"
	prune_images
	echo "$dir"
}

# prune_images deletes image sets (~530 MiB each) beyond the three used
# last, unless used in the last two hours (a cluster may still import one).
prune_images() {
	local old
	# shellcheck disable=SC2012 # the names are hex keys
	while read -r old; do
		[[ -n $old ]] || continue
		log "removing the image set ${old%/complete}, not used for two hours"
		rm -rf "${old%/complete}"
	done < <(ls -1t "$CACHE_ROOT"/images/*/complete 2>/dev/null | tail -n +4 |
		while read -r f; do [[ -z $(find "$f" -mmin -120) ]] && echo "$f"; done)
}

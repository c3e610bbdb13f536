# shellcheck shell=bash
# shellcheck disable=SC2154 # $output, $status and $lines come from bats' run
# Shared by the bats tests of scripts/install.sh.
#
# Environment:
#   HAKUBE_TEST_SH    the shell that runs install.sh: "dash" (default) or "busybox sh"
#   HAKUBE_TEST_DIST  directory with the real release assets (hakube-linux-<arch>, sha256sums.txt);
#                     default: dist/ at the repository root (make dist). 'go test ./scripts' builds
#                     one in a temp dir and sets this.
#
# setup_file (hk_setup_file) lays out a web root that mimics the release URLs and serves it with
# python3's http.server on 127.0.0.1 (a port the kernel picks); hk_teardown_file stops it by PID.
#   $HK_URL/releases  the real binaries:             latest/download/*, download/$HK_DIST_VERSION/*
#   $HK_URL/fake      shell-script "binaries" for every arch, which log how they were called
#   $HK_URL/bad       real binary, but one byte appended (checksum mismatch)
#   $HK_URL/noentry   sha256sums.txt without this machine's entry
#   $HK_URL/nosums    no sha256sums.txt at all

HK_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
HK_SCRIPT=$HK_REPO/scripts/install.sh
read -r -a HK_SH <<<"${HAKUBE_TEST_SH:-dash}"

# Commands install.sh may run; the tests' PATH holds only these (symlinks), plus stubs in front.
HK_TOOLS=(uname id mktemp rm cp mv chmod mkdir touch curl wget sha256sum busybox)

hk_die() {
	printf 'helpers.bash: %s\n' "$*" >&2
	return 1
}

hk_host_arch() {
	case $(uname -m) in
	x86_64) echo amd64 ;;
	aarch64) echo arm64 ;;
	armv7l | armv8l) echo armv7 ;;
	*) hk_die "no hakube build for $(uname -m)" ;;
	esac
}

hk_sums() { # hk_sums DIR FILE...: write DIR/sha256sums.txt for FILEs in DIR
	local dir=$1
	shift
	(cd "$dir" && sha256sum "$@" >sha256sums.txt)
}

# hk_release_dir ROOT VERSION: make ROOT/latest/download and ROOT/download/VERSION (a symlink to it).
hk_release_dir() {
	mkdir -p "$1/latest/download" "$1/download"
	ln -s ../latest/download "$1/download/$2"
	echo "$1/latest/download"
}

hk_setup_file() {
	local www dist arch d a f
	for f in python3 setsid script "${HK_SH[0]}" "${HK_TOOLS[@]}"; do
		command -v "$f" >/dev/null || hk_die "$f is not installed" || return 1
	done
	dist=${HAKUBE_TEST_DIST:-$HK_REPO/dist}
	arch=$(hk_host_arch)
	[ -f "$dist/hakube-linux-$arch" ] && [ -f "$dist/sha256sums.txt" ] ||
		hk_die "no release assets in $dist: run 'make dist' or set HAKUBE_TEST_DIST" || return 1
	export HK_ARCH=$arch HK_DIST=$dist
	HK_DIST_VERSION=$("$dist/hakube-linux-$arch" version | sed -n '1s/^hakube //p')
	export HK_DIST_VERSION

	www=$BATS_FILE_TMPDIR/www
	mkdir -p "$www"

	d=$(hk_release_dir "$www/releases" "$HK_DIST_VERSION")
	ln -s "$dist/hakube-linux-$arch" "$d/"
	cp "$dist/sha256sums.txt" "$d/"
	cp "$HK_SCRIPT" "$d/install.sh"

	d=$(hk_release_dir "$www/bad" "$HK_DIST_VERSION")
	cp "$dist/hakube-linux-$arch" "$d/" && printf x >>"$d/hakube-linux-$arch"
	cp "$dist/sha256sums.txt" "$d/"

	d=$(hk_release_dir "$www/noentry" "$HK_DIST_VERSION")
	ln -s "$dist/hakube-linux-$arch" "$d/"
	grep -v "hakube-linux-$arch\$" "$dist/sha256sums.txt" >"$d/sha256sums.txt" || true

	d=$(hk_release_dir "$www/nosums" "$HK_DIST_VERSION")
	ln -s "$dist/hakube-linux-$arch" "$d/"

	d=$(hk_release_dir "$www/fake" v9.9.9)
	for a in amd64 arm64 armv7; do
		hk_fake_binary "$a" >"$d/hakube-linux-$a"
		chmod 755 "$d/hakube-linux-$a"
	done
	hk_sums "$d" hakube-linux-amd64 hakube-linux-arm64 hakube-linux-armv7

	# Tool boxes: PATH directories holding only what install.sh may use.
	hk_toolbox all "${HK_TOOLS[@]}"
	hk_toolbox wget-only uname id mktemp rm cp mv chmod mkdir touch wget sha256sum
	hk_toolbox no-download uname id mktemp rm cp mv chmod mkdir touch sha256sum
	# shasum (perl) when this machine has it; the test that needs it says so otherwise.
	if command -v shasum >/dev/null; then
		hk_toolbox shasum uname id mktemp rm cp mv chmod mkdir touch curl shasum
	fi
	# Busybox applets only (as on Alpine): wget and sha256sum are busybox.
	hk_toolbox busybox-only
	for f in uname id mktemp rm cp mv chmod mkdir touch wget sha256sum; do
		ln -s "$(command -v busybox)" "$BATS_FILE_TMPDIR/toolbox-busybox-only/$f"
	done

	HK_SERVER_LOG=$BATS_FILE_TMPDIR/server.log
	python3 -u -m http.server --bind 127.0.0.1 --directory "$www" 0 >"$HK_SERVER_LOG" 2>&1 3>&- &
	HK_SERVER_PID=$!
	export HK_SERVER_LOG HK_SERVER_PID
	for _ in $(seq 1 100); do
		HK_PORT=$(sed -n 's/^Serving HTTP on 127\.0\.0\.1 port \([0-9][0-9]*\).*/\1/p' "$HK_SERVER_LOG")
		[ -n "$HK_PORT" ] && break
		kill -0 "$HK_SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	[ -n "$HK_PORT" ] || hk_die "the HTTP server did not start: $(cat "$HK_SERVER_LOG")" || return 1
	export HK_URL=http://127.0.0.1:$HK_PORT
	export HK_SETSID HK_SCRIPT_CMD
	HK_SETSID=$(command -v setsid)
	HK_SCRIPT_CMD=$(command -v script)
}

hk_teardown_file() {
	if [ -n "${HK_SERVER_PID:-}" ]; then
		kill "$HK_SERVER_PID" 2>/dev/null || true
		wait "$HK_SERVER_PID" 2>/dev/null || true
	fi
}

# hk_toolbox NAME TOOL...: $BATS_FILE_TMPDIR/toolbox-NAME with symlinks to the real TOOLs.
hk_toolbox() {
	local name=$1 t
	shift
	mkdir -p "$BATS_FILE_TMPDIR/toolbox-$name"
	for t in "$@"; do
		ln -s "$(command -v "$t")" "$BATS_FILE_TMPDIR/toolbox-$name/$t"
	done
}

# A stand-in for hakube-linux-ARCH: logs "[sudo] tty|notty ARGS" to $HAKUBE_FAKE_LOG.
hk_fake_binary() {
	cat <<EOF
#!/bin/sh
# fake hakube-linux-$1
if [ -t 0 ]; then hk_tty=tty; else hk_tty=notty; fi
printf '%s\n' "\${HK_VIA_SUDO:+sudo }\$hk_tty \$*" >>"\${HAKUBE_FAKE_LOG:-/dev/null}"
# Like hakube, which rejects HAKUBE_* variables it does not know: install.sh must not pass its own.
for v in HAKUBE_VERSION HAKUBE_DOWNLOAD_URL HAKUBE_BIN_DIR HAKUBE_SKIP_INSTALL; do
	if eval "[ -n \"\\\${\$v+x}\" ]"; then echo "fake hakube: \$v leaked" >&2; exit 2; fi
done
case \${1:-} in
version) echo "hakube v9.9.9 fake-$1" ;;
install) exit "\${HAKUBE_FAKE_EXIT:-0}" ;;
esac
EOF
}

# Per test: a bin dir, stub dir, logs. Call from setup().
hk_setup() {
	HK_T=$BATS_TEST_TMPDIR
	HK_BIN_DIR=$HK_T/bin
	HK_STUBS=$HK_T/stubs
	HK_STUB_LOG=$HK_T/stubs.log
	HK_FAKE_LOG=$HK_T/fake.log
	HK_TMP=$HK_T/tmp
	mkdir -p "$HK_STUBS" "$HK_TMP"
	: >"$HK_STUB_LOG"
	: >"$HK_FAKE_LOG"
	HK_BOX=all
	HK_ENV=()
	# Requests served from here on belong to this test.
	HK_LOG_START=$(wc -l <"$HK_SERVER_LOG")
}

# hk_stub NAME BODY: a stub command NAME in front of PATH that logs its arguments, then runs BODY.
hk_stub() {
	printf '#!/bin/sh\nprintf "%%s\\n" "%s $*" >>"%s"\n%s\n' "$1" "$HK_STUB_LOG" "$2" >"$HK_STUBS/$1"
	chmod 755 "$HK_STUBS/$1"
}

hk_stub_uname() { # hk_stub_uname MACHINE [KERNEL]
	hk_stub uname "case \$1 in -m) echo '$1' ;; -s) echo '${2:-Linux}' ;; *) exit 1 ;; esac"
}

hk_stub_id() { # hk_stub_id UID
	hk_stub id "case \$1 in -u) echo $1 ;; *) exit 1 ;; esac"
}

hk_stub_sudo() {
	hk_stub sudo 'HK_VIA_SUDO=1 exec "$@"'
}

# hk_run ARGS...: run install.sh the way 'curl -sfL URL | sh -s - ARGS' does (script on stdin),
# without a controlling terminal, with a clean environment: PATH (stubs, then the tool box
# $HK_BOX), HOME, TMPDIR, HAKUBE_DOWNLOAD_URL=$HK_URL/releases, HAKUBE_BIN_DIR=$HK_BIN_DIR,
# HAKUBE_FAKE_LOG, and ${HK_ENV[@]} (NAME=VALUE, which may override those).
hk_run() {
	run env -i PATH="$HK_STUBS:$BATS_FILE_TMPDIR/toolbox-$HK_BOX" HOME="$HK_T" TMPDIR="$HK_TMP" \
		HAKUBE_DOWNLOAD_URL="$HK_URL/releases" HAKUBE_BIN_DIR="$HK_BIN_DIR" \
		HAKUBE_FAKE_LOG="$HK_FAKE_LOG" "${HK_ENV[@]}" \
		"$HK_SETSID" -w "$(command -v "${HK_SH[0]}")" "${HK_SH[@]:1}" -s - "$@" <"$HK_SCRIPT"
}

# hk_served REGEX: the paths of GET requests since hk_setup that match REGEX, one a line.
hk_served() {
	tail -n +"$((HK_LOG_START + 1))" "$HK_SERVER_LOG" |
		sed -n 's/.*"GET \([^ ]*\) HTTP[^"]*" \([0-9]*\).*/\1 \2/p' | grep -E "$1" || true
}

# Nothing was installed and the temp dir was cleaned.
hk_assert_nothing_installed() {
	if [ -e "$HK_BIN_DIR/hakube" ] || [ -n "$(find "$HK_BIN_DIR" -name '.hakube.*' 2>/dev/null)" ]; then
		echo "installed anyway: $(ls -la "$HK_BIN_DIR")"
		return 1
	fi
	hk_assert_tmp_clean
}

hk_assert_tmp_clean() {
	if [ -n "$(ls -A "$HK_TMP")" ]; then
		echo "temp dir left behind: $(ls -A "$HK_TMP")"
		return 1
	fi
}

hk_assert_output_has() {
	case $output in
	*"$1"*) return 0 ;;
	esac
	printf 'output lacks %s:\n%s\n' "$1" "$output"
	return 1
}

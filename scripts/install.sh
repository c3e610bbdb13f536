#!/bin/sh
# hakube installer: fetches the hakube binary for this machine, verifies its sha256, installs it,
# then runs 'hakube install'.
#
#   curl -sfL https://github.com/hakube/hakube/releases/latest/download/install.sh | sh -
#   curl -sfL https://github.com/hakube/hakube/releases/latest/download/install.sh | sh -s - --config site.yaml --yes
#
# Arguments after 'sh -s -' go to 'hakube install' (unattended, e.g. --config site.yaml --yes).
# Without arguments, 'hakube install' runs interactively on the terminal (/dev/tty). With neither
# arguments nor a terminal, the binary is installed, the script says what to pass, and exits 2
# (the stack was not installed: a pipeline must not mistake that for success).
#
# Environment:
#   HAKUBE_VERSION=v1.2.3     release to install (default: latest)
#   HAKUBE_DOWNLOAD_URL=URL   where releases live (default: https://github.com/hakube/hakube/releases)
#                               latest:    URL/latest/download/ASSET
#                               a version: URL/download/VERSION/ASSET
#                             ASSET is hakube-linux-<amd64|arm64|armv7> or sha256sums.txt (sha256sum
#                             format). The binary is refused unless its sha256 matches its entry.
#                             https only (curl refuses any other protocol, redirects included);
#                             plain http only to a mirror on this machine (127.0.0.1, localhost).
#   HAKUBE_BIN_DIR=DIR[:DIR]  where to install; the first candidate that is (or can be made) a
#                             writable directory wins (default: /usr/local/bin:/opt/bin, so /opt/bin
#                             when /usr/local/bin is read-only)
#   HAKUBE_SKIP_INSTALL=1     only install the binary, do not run 'hakube install'
# These four are not passed on to hakube. Other HAKUBE_<KEY> settings reach 'hakube install' when
# run as root; sudo resets the environment, so with sudo use --config.
#
# Uses sudo only when not root. Needs curl or wget, and sha256sum, shasum or busybox.
#
# Safe when truncated: below are only function definitions (all named hk_*), and everything runs
# from the one { ... } block at the very end, which the shell reads whole before running it.

hk_info() {
	printf '[hakube] %s\n' "$*"
}

hk_fatal() {
	printf '[hakube] ERROR: %s\n' "$*" >&2
	exit 1
}

hk_setup_env() {
	HK_URL=${HAKUBE_DOWNLOAD_URL:-https://github.com/hakube/hakube/releases}
	HK_URL=${HK_URL%/}
	# The checksums come from the same place as the binary: over plain http
	# anyone on the path could replace both.
	case $HK_URL in
	*@* | *[!A-Za-z0-9._~:/%+-]*) hk_fatal "HAKUBE_DOWNLOAD_URL='$HK_URL' is not a plain https:// URL (no user info, no spaces)" ;;
	https://?*) HK_PROTO='=https' ;;
	http://127.0.0.1[:/]* | http://localhost[:/]*) HK_PROTO='=http' ;;
	*) hk_fatal "HAKUBE_DOWNLOAD_URL='$HK_URL' must be https:// (plain http:// only to a mirror on this machine: 127.0.0.1 or localhost)" ;;
	esac
	HK_VERSION=${HAKUBE_VERSION:-latest}
	case $HK_VERSION in
	'' | *[!A-Za-z0-9._+-]*) hk_fatal "HAKUBE_VERSION='$HK_VERSION' is not a release name (like v1.2.3, or latest)" ;;
	latest) HK_BASE=$HK_URL/latest/download ;;
	*) HK_BASE=$HK_URL/download/$HK_VERSION ;;
	esac
	HK_SCRIPT_URL=$HK_URL/latest/download/install.sh
	# Seconds to connect, and for a whole download (tens of MB on a slow link).
	HK_CONNECT_TIMEOUT=20
	HK_MAX_TIME=900
	HK_SKIP_INSTALL=${HAKUBE_SKIP_INSTALL:-}
	HK_BIN_DIRS=${HAKUBE_BIN_DIR:-/usr/local/bin:/opt/bin}
	# Read once; hakube itself has no use for them.
	unset HAKUBE_DOWNLOAD_URL HAKUBE_VERSION HAKUBE_BIN_DIR HAKUBE_SKIP_INSTALL

	if [ "$(id -u)" = 0 ]; then
		HK_SUDO=
	elif command -v sudo >/dev/null 2>&1; then
		HK_SUDO=sudo
	else
		hk_fatal "not running as root and sudo is not installed: run this as root (e.g. 'curl -sfL $HK_SCRIPT_URL | su -c \"sh -\"')"
	fi
}

hk_setup_arch() {
	HK_OS=$(uname -s)
	[ "$HK_OS" = Linux ] || hk_fatal "hakube runs on Linux only, this is $HK_OS"
	HK_UNAME_M=$(uname -m)
	case $HK_UNAME_M in
	x86_64 | amd64) HK_ARCH=amd64 ;;
	aarch64 | arm64) HK_ARCH=arm64 ;;
	armv7l | armv8l) HK_ARCH=armv7 ;;
	*) hk_fatal "architecture '$HK_UNAME_M' is not supported: hakube is built for x86_64 (amd64), aarch64 (arm64) and armv7l (armv7)" ;;
	esac
	HK_ASSET=hakube-linux-$HK_ARCH
}

hk_setup_tools() {
	if command -v curl >/dev/null 2>&1; then
		HK_GET=curl
	elif command -v wget >/dev/null 2>&1; then
		HK_GET=wget
		# GNU wget and most BusyBox builds take -T; a BusyBox built without it crashes on it.
		HK_WGET_HELP=$(wget --help 2>&1) || true
		case $HK_WGET_HELP in
		*BusyBox*"-T SEC"* | *"-T,"*) HK_WGET_TIMEOUT=1 ;;
		*BusyBox*) HK_WGET_TIMEOUT= ;;
		*) HK_WGET_TIMEOUT=1 ;;
		esac
	else
		hk_fatal "neither curl nor wget is installed: install one of them"
	fi
	if command -v sha256sum >/dev/null 2>&1; then
		HK_SHA=sha256sum
	elif command -v shasum >/dev/null 2>&1; then
		HK_SHA=shasum
	elif command -v busybox >/dev/null 2>&1 && busybox sha256sum </dev/null >/dev/null 2>&1; then
		HK_SHA=busybox
	else
		hk_fatal "no sha256 tool (sha256sum, shasum or busybox) to verify the download: install coreutils"
	fi
}

# hk_sha256 FILE: print the sha256 of FILE.
hk_sha256() {
	case $HK_SHA in
	sha256sum) HK_SUM=$(sha256sum "$1") ;;
	shasum) HK_SUM=$(shasum -a 256 "$1") ;;
	busybox) HK_SUM=$(busybox sha256sum "$1") ;;
	esac || hk_fatal "could not compute the sha256 of $1"
	printf '%s\n' "${HK_SUM%% *}"
}

# hk_download URL FILE: over HK_PROTO only (curl: redirects too); never hangs forever.
hk_download() {
	case $HK_GET in
	curl) curl -fsSL --proto "$HK_PROTO" --proto-redir "$HK_PROTO" --connect-timeout "$HK_CONNECT_TIMEOUT" --max-time "$HK_MAX_TIME" -o "$2" "$1" ;;
	# wget has no protocol pin for redirects; -T bounds every network wait.
	wget) wget -q ${HK_WGET_TIMEOUT:+-T "$HK_CONNECT_TIMEOUT"} -O "$2" "$1" ;;
	esac || {
		rm -f "$2"
		hk_fatal "could not download $1"
	}
}

# hk_writable_dir DIR: DIR is, or can be made, a directory we can write to.
hk_writable_dir() {
	case $1 in /*) ;; *) return 1 ;; esac
	$HK_SUDO mkdir -p "$1" 2>/dev/null || return 1
	$HK_SUDO touch "$1/.hakube-write-test" 2>/dev/null || return 1
	$HK_SUDO rm -f "$1/.hakube-write-test"
}

hk_setup_bin_dir() {
	HK_BIN_DIR=
	HK_REST=$HK_BIN_DIRS:
	while [ -n "$HK_REST" ]; do
		HK_DIR=${HK_REST%%:*}
		HK_REST=${HK_REST#*:}
		if [ -n "$HK_DIR" ] && hk_writable_dir "$HK_DIR"; then
			HK_BIN_DIR=$HK_DIR
			break
		fi
	done
	[ -n "$HK_BIN_DIR" ] || hk_fatal "no writable directory to install hakube into (tried $HK_BIN_DIRS): set HAKUBE_BIN_DIR to an absolute path"
	HK_BIN=$HK_BIN_DIR/hakube
}

hk_setup_tmp() {
	HK_TMP=$(mktemp -d 2>/dev/null || mktemp -d -t hakube.XXXXXX) || hk_fatal "mktemp -d failed"
	[ -d "$HK_TMP" ] || hk_fatal "mktemp -d failed"
	HK_NEW=
	trap 'rm -rf "$HK_TMP"; [ -z "$HK_NEW" ] || $HK_SUDO rm -f "$HK_NEW"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
}

# Sets HK_WANT to the sha256 that sha256sums.txt lists for HK_ASSET; fails closed.
hk_fetch_checksum() {
	hk_download "$HK_BASE/sha256sums.txt" "$HK_TMP/sha256sums.txt"
	HK_WANT=
	while read -r HK_S HK_N || [ -n "$HK_S" ]; do
		case $HK_N in
		"$HK_ASSET" | "*$HK_ASSET") ;;
		*) continue ;;
		esac
		[ -z "$HK_WANT" ] || [ "$HK_WANT" = "$HK_S" ] || hk_fatal "sha256sums.txt lists $HK_ASSET twice with different sums: refusing to install"
		HK_WANT=$HK_S
	done <"$HK_TMP/sha256sums.txt"
	[ -n "$HK_WANT" ] || hk_fatal "sha256sums.txt ($HK_BASE) has no entry for $HK_ASSET: refusing to install an unverified binary"
	case $HK_WANT in
	*[!0-9a-f]*) hk_fatal "sha256sums.txt has a malformed sum for $HK_ASSET: refusing to install" ;;
	esac
	[ ${#HK_WANT} -eq 64 ] || hk_fatal "sha256sums.txt has a malformed sum for $HK_ASSET: refusing to install"
}

# Sets HK_FRESH=1 when the binary was downloaded, 0 when the installed one already matches.
hk_install_binary() {
	if [ -f "$HK_BIN" ] && [ "$(hk_sha256 "$HK_BIN")" = "$HK_WANT" ]; then
		hk_info "$HK_BIN already matches $HK_ASSET ($HK_VERSION): skipping the download"
		HK_FRESH=0
		return 0
	fi
	hk_info "Downloading $HK_ASSET ($HK_VERSION) from $HK_BASE"
	hk_download "$HK_BASE/$HK_ASSET" "$HK_TMP/hakube"
	HK_GOT=$(hk_sha256 "$HK_TMP/hakube")
	[ "$HK_GOT" = "$HK_WANT" ] || hk_fatal "checksum mismatch for $HK_ASSET: expected $HK_WANT, got $HK_GOT; nothing was installed"
	hk_info "Verified sha256 $HK_GOT"
	chmod 755 "$HK_TMP/hakube"
	# Copy next to the target, then rename: atomic, and safe while an old hakube is running.
	# mktemp creates a new file under a name nobody can guess: a symlink planted in the
	# directory is never written through.
	HK_NEW=$($HK_SUDO mktemp "$HK_BIN_DIR/.hakube.XXXXXXXXXX") || hk_fatal "could not write to $HK_BIN_DIR"
	$HK_SUDO cp "$HK_TMP/hakube" "$HK_NEW" || hk_fatal "could not write to $HK_BIN_DIR"
	$HK_SUDO chmod 755 "$HK_NEW"
	$HK_SUDO mv -f "$HK_NEW" "$HK_BIN" || hk_fatal "could not install $HK_BIN"
	HK_NEW=
	HK_FRESH=1
}

hk_check_binary() {
	HK_VERSION_OUT=$("$HK_BIN" version 2>&1) || hk_fatal "$HK_BIN does not run on this machine: $HK_VERSION_OUT"
	HK_NL='
'
	HK_VERSION_OUT=${HK_VERSION_OUT%%"$HK_NL"*}
	if [ "$HK_FRESH" = 1 ]; then
		hk_info "Installed $HK_BIN: $HK_VERSION_OUT"
	else
		hk_info "Using $HK_BIN: $HK_VERSION_OUT"
	fi
	case ":$PATH:" in
	*":$HK_BIN_DIR:"*) ;;
	*) hk_info "Note: $HK_BIN_DIR is not on PATH; run $HK_BIN, or add $HK_BIN_DIR to PATH" ;;
	esac
}

hk_run_install() {
	if [ "$HK_SKIP_INSTALL" = 1 ]; then
		hk_info "HAKUBE_SKIP_INSTALL=1: not running 'hakube install'"
		return 0
	fi
	if [ $# -gt 0 ]; then
		hk_info "Running: ${HK_SUDO:+sudo }hakube install $*"
		if (: </dev/tty) 2>/dev/null; then
			$HK_SUDO "$HK_BIN" install "$@" </dev/tty
		else
			$HK_SUDO "$HK_BIN" install "$@"
		fi
	elif (: </dev/tty) 2>/dev/null; then
		hk_info "Running: ${HK_SUDO:+sudo }hakube install (interactive)"
		$HK_SUDO "$HK_BIN" install </dev/tty
	else
		printf '%s\n' \
			"[hakube] No terminal to ask on, and no arguments for an unattended install." \
			"[hakube] The binary is installed; to install the stack, either pass a flags file:" \
			"[hakube]   curl -sfL $HK_SCRIPT_URL | sh -s - --config site.yaml --yes" \
			"[hakube] or run 'sudo hakube install' on a terminal. HAKUBE_SKIP_INSTALL=1 only installs the binary." >&2
		exit 2
	fi
}

hk_main() {
	hk_setup_env
	hk_setup_arch
	hk_setup_tools
	hk_setup_bin_dir
	hk_setup_tmp
	hk_info "Installing hakube $HK_VERSION for linux/$HK_ARCH into $HK_BIN_DIR"
	hk_fetch_checksum
	hk_install_binary
	hk_check_binary
	hk_run_install "$@"
}

{
	set -eu
	hk_main "$@"
}

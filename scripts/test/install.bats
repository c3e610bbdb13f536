#!/usr/bin/env bats
# scripts/install.sh end to end, run by $HAKUBE_TEST_SH against a local HTTP server (helpers.bash).

# shellcheck disable=SC2034 # HK_ENV, HK_BOX, HK_LOG_START are read by helpers.bash
load helpers

setup_file() { hk_setup_file; }
teardown_file() { hk_teardown_file; }
setup() { hk_setup; }

@test "happy path: curl | sh - downloads, verifies, installs, runs hakube version" {
	# shellcheck disable=SC2016 # expanded by sh -c
	run env -i PATH="$HK_STUBS:$BATS_FILE_TMPDIR/toolbox-all" HOME="$HK_T" TMPDIR="$HK_TMP" \
		HAKUBE_DOWNLOAD_URL="$HK_URL/releases" HAKUBE_BIN_DIR="$HK_BIN_DIR" HAKUBE_SKIP_INSTALL=1 \
		HK_SH="$(command -v "${HK_SH[0]}") ${HK_SH[*]:1}" HK_INSTALL_URL="$HK_URL/releases/latest/download/install.sh" \
		"$HK_SETSID" -w "$(command -v sh)" -c 'curl -sfL "$HK_INSTALL_URL" | $HK_SH -s -'
	echo "$output"
	[ "$status" -eq 0 ]
	hk_assert_output_has "Installing hakube latest for linux/$HK_ARCH into $HK_BIN_DIR"
	hk_assert_output_has "Verified sha256 "
	hk_assert_output_has "Installed $HK_BIN_DIR/hakube: hakube $HK_DIST_VERSION"
	hk_assert_output_has "HAKUBE_SKIP_INSTALL=1"
	cmp "$HK_DIST/hakube-linux-$HK_ARCH" "$HK_BIN_DIR/hakube"
	[ "$(stat -c %a "$HK_BIN_DIR/hakube")" = 755 ]
	run "$HK_BIN_DIR/hakube" version
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hakube $HK_DIST_VERSION" ]
	hk_assert_output_has "commit: "
	hk_assert_output_has "go: go"
	hk_assert_tmp_clean
	[ "$(ls -A "$HK_BIN_DIR")" = hakube ]
}

@test "HAKUBE_VERSION fetches from download/<version>/" {
	HK_ENV=(HAKUBE_VERSION="$HK_DIST_VERSION" HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$HK_DIST/hakube-linux-$HK_ARCH" "$HK_BIN_DIR/hakube"
	[ "$(hk_served "/releases/download/$HK_DIST_VERSION/(sha256sums.txt|hakube-linux-$HK_ARCH) 200" | wc -l)" -eq 2 ]
	[ -z "$(hk_served latest)" ]
}

@test "checksum mismatch installs nothing and says so" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/bad")
	hk_run --config site.yaml --yes
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: checksum mismatch for hakube-linux-$HK_ARCH: expected "
	hk_assert_output_has "nothing was installed"
	hk_assert_nothing_installed
	[ -z "$(ls -A "$HK_BIN_DIR")" ]
}

@test "checksum mismatch leaves an installed binary alone" {
	mkdir -p "$HK_BIN_DIR" && echo old >"$HK_BIN_DIR/hakube"
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/bad")
	hk_run
	[ "$status" -eq 1 ]
	[ "$(cat "$HK_BIN_DIR/hakube")" = old ]
}

@test "a missing checksum entry fails closed, before downloading the binary" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/noentry")
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "has no entry for hakube-linux-$HK_ARCH: refusing to install an unverified binary"
	hk_assert_nothing_installed
	[ -z "$(hk_served hakube-linux)" ]
}

@test "a missing sha256sums.txt fails closed" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/nosums")
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: could not download $HK_URL/nosums/latest/download/sha256sums.txt"
	hk_assert_nothing_installed
	[ -z "$(hk_served hakube-linux)" ]
}

@test "unsupported architectures fail clearly, naming the arch, before any download" {
	local m
	for m in armv6l i386 i686 riscv64 s390x mips; do
		hk_stub_uname "$m"
		hk_run
		echo "$m: $output"
		[ "$status" -eq 1 ]
		hk_assert_output_has "ERROR: architecture '$m' is not supported"
	done
	hk_assert_nothing_installed
	[ -z "$(hk_served .)" ]
}

@test "not Linux fails clearly" {
	hk_stub_uname x86_64 Darwin
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "hakube runs on Linux only, this is Darwin"
}

@test "uname -m maps to the right asset" {
	local m want
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	for m in x86_64:amd64 aarch64:arm64 arm64:arm64 armv7l:armv7 armv8l:armv7; do
		want=${m#*:}
		hk_stub_uname "${m%%:*}"
		rm -rf "$HK_BIN_DIR"
		HK_LOG_START=$(wc -l <"$HK_SERVER_LOG")
		hk_run
		echo "$m: $output"
		[ "$status" -eq 0 ]
		hk_assert_output_has "for linux/$want "
		hk_assert_output_has "hakube v9.9.9 fake-$want"
		[ "$(hk_served hakube-linux)" = "/fake/latest/download/hakube-linux-$want 200" ]
	done
}

@test "not root without sudo fails clearly, before any download" {
	hk_stub_id 1000
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: not running as root and sudo is not installed"
	hk_assert_nothing_installed
	[ -z "$(hk_served .)" ]
}

@test "not root with sudo: installs and runs hakube install through sudo" {
	hk_stub_id 1000
	hk_stub_sudo
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake")
	hk_run --config site.yaml --yes
	echo "$output"
	[ "$status" -eq 0 ]
	hk_assert_output_has "Running: sudo hakube install --config site.yaml --yes"
	grep -q "^sudo mktemp $HK_BIN_DIR/.hakube.XXXXXXXXXX\$" "$HK_STUB_LOG"
	grep -q "^sudo cp .*/hakube $HK_BIN_DIR/.hakube.[A-Za-z0-9]\{10\}\$" "$HK_STUB_LOG"
	grep -q "^sudo mv -f $HK_BIN_DIR/.hakube.[A-Za-z0-9]\{10\} $HK_BIN_DIR/hakube\$" "$HK_STUB_LOG"
	grep -qx "sudo notty install --config site.yaml --yes" "$HK_FAKE_LOG"
}

@test "root: never calls sudo" {
	hk_stub_sudo
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake")
	hk_run --yes
	echo "$output"
	[ "$status" -eq 0 ]
	! grep -q '^sudo' "$HK_STUB_LOG" || false
	grep -qx "notty install --yes" "$HK_FAKE_LOG"
}

@test "arguments after sh -s - run hakube install unattended, and its exit code is kept" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_FAKE_EXIT=4)
	hk_run --config 'my site.yaml' --yes
	echo "$output"
	[ "$status" -eq 4 ]
	[ "$(tail -n 1 "$HK_FAKE_LOG")" = "notty install --config my site.yaml --yes" ]
	hk_assert_tmp_clean
}

@test "no terminal and no arguments: installs the binary, says what to pass, exits 2" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake")
	hk_run
	echo "$output"
	[ "$status" -eq 2 ]
	hk_assert_output_has "No terminal to ask on, and no arguments for an unattended install"
	hk_assert_output_has "| sh -s - --config site.yaml --yes"
	hk_assert_output_has "sudo hakube install"
	[ -x "$HK_BIN_DIR/hakube" ]
	! grep -q install "$HK_FAKE_LOG" || false
	hk_assert_tmp_clean
}

@test "a terminal and no arguments: runs hakube install interactively on /dev/tty" {
	# script(1) gives the run a pseudo-terminal; the script itself still comes from stdin of sh.
	local cmd
	cmd="env -i PATH='$HK_STUBS:$BATS_FILE_TMPDIR/toolbox-all' HOME='$HK_T' TMPDIR='$HK_TMP'"
	cmd="$cmd HAKUBE_DOWNLOAD_URL='$HK_URL/fake' HAKUBE_BIN_DIR='$HK_BIN_DIR' HAKUBE_FAKE_LOG='$HK_FAKE_LOG'"
	cmd="$cmd $(command -v "${HK_SH[0]}") ${HK_SH[*]:1} -s - <'$HK_SCRIPT'"
	run "$HK_SCRIPT_CMD" -qec "$cmd" /dev/null </dev/null
	echo "$output"
	[ "$status" -eq 0 ]
	hk_assert_output_has "Running: hakube install (interactive)"
	grep -qx "tty install" "$HK_FAKE_LOG"
}

@test "HAKUBE_SKIP_INSTALL=1 only installs the binary" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	hk_run --yes
	[ "$status" -eq 0 ]
	[ -x "$HK_BIN_DIR/hakube" ]
	! grep -q install "$HK_FAKE_LOG" || false
}

@test "skips the download when the installed binary already matches" {
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	hk_run
	[ "$status" -eq 0 ]
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	hk_assert_output_has "$HK_BIN_DIR/hakube already matches hakube-linux-$HK_ARCH (latest): skipping the download"
	[ "$(hk_served "hakube-linux" | wc -l)" -eq 1 ]
	[ "$(hk_served "sha256sums.txt" | wc -l)" -eq 2 ]
	# A different installed binary is replaced.
	echo old >"$HK_BIN_DIR/hakube"
	hk_run
	[ "$status" -eq 0 ]
	[ "$(hk_served "hakube-linux" | wc -l)" -eq 2 ]
	cmp "$HK_BIN_DIR/hakube" "$BATS_FILE_TMPDIR/www/fake/latest/download/hakube-linux-$HK_ARCH"
}

@test "read-only preferred bin dir: falls back to the next candidate" {
	# As root nothing is read-only to permissions; a regular file where the directory should be is.
	touch "$HK_T/ro"
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1 HAKUBE_BIN_DIR="$HK_T/ro/bin:$HK_T/opt/bin")
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	hk_assert_output_has "into $HK_T/opt/bin"
	hk_assert_output_has "Note: $HK_T/opt/bin is not on PATH"
	[ -x "$HK_T/opt/bin/hakube" ]
	[ ! -e "$HK_T/opt/bin/.hakube-write-test" ]
}

@test "no writable bin dir fails clearly, before any download" {
	touch "$HK_T/ro"
	HK_ENV=(HAKUBE_BIN_DIR="$HK_T/ro/a:$HK_T/ro/b:relative/bin")
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: no writable directory to install hakube into (tried $HK_T/ro/a:$HK_T/ro/b:relative/bin)"
	[ -z "$(hk_served .)" ]
}

@test "wget instead of curl" {
	HK_BOX=wget-only
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	[ -x "$HK_BIN_DIR/hakube" ]
}

@test "busybox tools only (wget, sha256sum, mktemp ... as on Alpine)" {
	HK_BOX=busybox-only
	HK_ENV=(HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$HK_DIST/hakube-linux-$HK_ARCH" "$HK_BIN_DIR/hakube"
	hk_assert_tmp_clean
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/bad")
	rm -rf "$HK_BIN_DIR"
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "checksum mismatch"
	hk_assert_nothing_installed
}

@test "shasum when there is no sha256sum" {
	[ -d "$BATS_FILE_TMPDIR/toolbox-shasum" ] || skip "shasum (perl) is not installed"
	HK_BOX=shasum
	HK_ENV=(HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$HK_DIST/hakube-linux-$HK_ARCH" "$HK_BIN_DIR/hakube"
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/bad")
	rm -rf "$HK_BIN_DIR"
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "checksum mismatch"
	hk_assert_nothing_installed
}

@test "no sha256 tool fails closed" {
	hk_toolbox nosha uname id mktemp rm cp mv chmod mkdir touch curl
	HK_BOX=nosha
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: no sha256 tool"
	hk_assert_nothing_installed
	[ -z "$(hk_served .)" ]
}

@test "neither curl nor wget fails clearly" {
	HK_BOX=no-download
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "ERROR: neither curl nor wget is installed"
	hk_assert_nothing_installed
}

@test "a malformed HAKUBE_VERSION is refused" {
	HK_ENV=(HAKUBE_VERSION="../../evil")
	hk_run
	[ "$status" -eq 1 ]
	hk_assert_output_has "is not a release name"
	[ -z "$(hk_served .)" ]
}

@test "a symlink planted in the bin dir is never written through" {
	mkdir -p "$HK_BIN_DIR"
	echo keep >"$HK_T/victim"
	ln -s "$HK_T/victim" "$HK_BIN_DIR/.hakube.new"
	ln -s "$HK_T/victim" "$HK_BIN_DIR/.hakube.tmp"
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$HK_T/victim")" = keep ]
	cmp "$HK_BIN_DIR/hakube" "$BATS_FILE_TMPDIR/www/fake/latest/download/hakube-linux-$HK_ARCH"
	# Nothing but the binary and the planted links: no temporary file left.
	[ "$(find "$HK_BIN_DIR" -mindepth 1 -printf '%f\n' | sort | tr '\n' ' ')" = ".hakube.new .hakube.tmp hakube " ]
}

@test "a failed copy leaves no temporary file in the bin dir" {
	[ "${HK_SH[0]}" != busybox ] || skip "BusyBox sh runs its own applets, not stubs on PATH (checked under dash)"
	hk_stub_id 1000
	# shellcheck disable=SC2016 # expanded by the stub
	hk_stub sudo 'case $1 in cp) exit 1 ;; esac; HK_VIA_SUDO=1 exec "$@"'
	HK_ENV=(HAKUBE_DOWNLOAD_URL="$HK_URL/fake" HAKUBE_SKIP_INSTALL=1)
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	hk_assert_output_has "could not write to $HK_BIN_DIR"
	hk_assert_nothing_installed
}

@test "plain http to another host is refused before any download" {
	for url in http://example.invalid/releases "http://127.0.0.1:1@example.invalid/releases" ftp://example.invalid/x "http://127.0.0.1.example.invalid/x"; do
		HK_ENV=(HAKUBE_DOWNLOAD_URL="$url")
		hk_stub curl 'exit 7'
		hk_run
		echo "$output"
		[ "$status" -eq 1 ]
		hk_assert_output_has "HAKUBE_DOWNLOAD_URL='$url'"
		hk_assert_nothing_installed
	done
	[ ! -s "$HK_STUB_LOG" ] || { cat "$HK_STUB_LOG"; false; }
	[ -z "$(hk_served .)" ]
}

@test "curl: https only, redirects too, with connect and total timeouts" {
	hk_stub curl 'exit 7'
	HK_ENV=(HAKUBE_DOWNLOAD_URL="https://127.0.0.1:9/releases")
	hk_run
	echo "$output"
	[ "$status" -eq 1 ]
	grep -q -- "^curl -fsSL --proto =https --proto-redir =https --connect-timeout 20 --max-time 900 -o " "$HK_STUB_LOG" || { cat "$HK_STUB_LOG"; false; }
	# A loopback mirror may be plain http, and still nothing else.
	: >"$HK_STUB_LOG"
	HK_ENV=(HAKUBE_DOWNLOAD_URL="http://localhost:9/releases")
	hk_run
	grep -q -- "^curl -fsSL --proto =http --proto-redir =http --connect-timeout 20 --max-time 900 " "$HK_STUB_LOG" || { cat "$HK_STUB_LOG"; false; }
}

@test "wget: a timeout on every network wait" {
	[ "${HK_SH[0]}" != busybox ] || skip "BusyBox sh runs its own wget applet, not a stub on PATH (checked under dash)"
	HK_BOX=wget-only
	hk_stub wget 'exit 4'
	HK_ENV=(HAKUBE_DOWNLOAD_URL="https://127.0.0.1:9/releases")
	hk_run
	[ "$status" -eq 1 ]
	grep -q -- "^wget -q -T 20 -O " "$HK_STUB_LOG" || { cat "$HK_STUB_LOG"; false; }
}

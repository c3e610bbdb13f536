#!/usr/bin/env bats
# A download cut short must run nothing: install.sh is cut at byte offsets and each prefix runs
# under $HAKUBE_TEST_SH, fed on stdin as 'curl | sh -' does, with a PATH holding only stubs that
# log any command run. Only a prefix holding the closing brace of the final { ... } block, i.e.
# the whole script (its last newline aside), may run anything.
#
# Offsets: every byte (about 9000 prefixes, ~45 s per shell on 2 busy cores). For quicker runs,
# HAKUBE_TRUNCATE_STEP=N keeps every byte of top-level code (where a cut could leave a complete
# command) but, in comments and function bodies (where any cut leaves an unterminated comment or
# definition), only every line start and end and every N-th byte.

HK_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
HK_SCRIPT=$HK_REPO/scripts/install.sh
read -r -a HK_SH <<<"${HAKUBE_TEST_SH:-dash}"

# Every external command install.sh runs, and then some.
HK_STUBBED=(uname id sudo mktemp rm cp mv chmod mkdir touch curl wget sha256sum shasum busybox
	hakube head sed awk grep cat tr sh dash bash env su install ln tee sleep kill)

setup() {
	local c
	HK_T=$BATS_TEST_TMPDIR
	mkdir -p "$HK_T/stubs" "$HK_T/tmp"
	: >"$HK_T/executed.log"
	for c in "${HK_STUBBED[@]}"; do
		printf '#!%s\necho "%s $*" >>"%s"\n' "$(command -v dash)" "$c" "$HK_T/executed.log" >"$HK_T/stubs/$c"
		chmod 755 "$HK_T/stubs/$c"
	done
	HK_SHELL=$(command -v "${HK_SH[0]}")
}

# hk_run_prefix N: run the first N bytes of the script (written to $HK_T/prefix) as 'curl | sh'
# would; stdout and stderr are appended to $HK_T/out and $HK_T/err.
hk_run_prefix() {
	printf '%s' "${HK_TEXT:0:$1}" >"$HK_T/prefix"
	env -i PATH="$HK_T/stubs" HOME="$HK_T" TMPDIR="$HK_T/tmp" HAKUBE_BIN_DIR="$HK_T/bin" \
		HAKUBE_DOWNLOAD_URL=http://127.0.0.1:9/none \
		"$HK_SHELL" "${HK_SH[@]:1}" -s - --config site.yaml --yes <"$HK_T/prefix" >>"$HK_T/out" 2>>"$HK_T/err" || true
}

@test "every truncated prefix of install.sh executes nothing" {
	local n end step pos line len all i inbody=0 offsets=() ok=1 left=()
	LC_ALL=C
	IFS= read -r -d '' HK_TEXT <"$HK_SCRIPT" || true
	[ "${#HK_TEXT}" -eq "$(wc -c <"$HK_SCRIPT")" ] # the whole file, trailing newline included
	# The final block's closing brace: every prefix that ends before it must run nothing.
	end=${HK_TEXT%\}*}
	end=${#end}
	[ "${HK_TEXT:$end}" = $'}\n' ]

	# Offsets: every byte of top-level code (function headers, closing braces, the final block);
	# in comments and function bodies, every line start and end and every $step-th byte.
	step=${HAKUBE_TRUNCATE_STEP:-1}
	pos=0
	while IFS= read -r line; do
		len=${#line}
		all=0
		if [ "$inbody" = 0 ] && [[ $line != \#* ]]; then all=1; fi
		if [[ $line =~ ^hk_[a-z0-9_]*\(\)\ \{$ ]]; then inbody=1; fi
		if [ "$line" = "}" ]; then inbody=0 all=1; fi
		for ((i = 0; i <= len && pos + i <= end; i++)); do
			if [ "$all" = 1 ] || [ "$i" = 0 ] || [ "$i" = "$len" ] || [ $(((pos + i) % step)) = 0 ]; then
				offsets+=($((pos + i)))
			fi
		done
		pos=$((pos + len + 1))
	done <<<"$HK_TEXT"
	[ "$inbody" = 0 ]

	shopt -s nullglob dotglob
	for n in "${offsets[@]}"; do
		hk_run_prefix "$n"
		left=("$HK_T"/tmp/*)
		if [ -s "$HK_T/executed.log" ] || [ -s "$HK_T/out" ] || [ -e "$HK_T/bin" ] || [ "${#left[@]}" -gt 0 ]; then
			ok=0
			break
		fi
	done
	echo "${#offsets[@]} prefixes of ${#HK_TEXT} bytes run by ${HK_SH[*]}; last: $n"
	echo "# ${#offsets[@]} prefixes of ${#HK_TEXT} bytes (step $step) under ${HK_SH[*]}" >&3
	if [ "$ok" = 0 ]; then
		echo "the prefix of $n bytes ran something:"
		echo "--- prefix tail:"
		tail -c 200 "$HK_T/prefix"
		echo
		echo "--- executed:" && cat "$HK_T/executed.log"
		echo "--- stdout:" && cat "$HK_T/out"
		echo "--- stderr:" && tail -n 5 "$HK_T/err"
		echo "--- left in TMPDIR:" "${left[@]}"
		return 1
	fi
	if grep -F '[hakube]' "$HK_T/err"; then
		echo "a prefix printed a message of install.sh (above)"
		return 1
	fi
	# A command that was not found was still an attempt to run one: only the prefixes cut inside
	# a function's name (h, hk, hk_...) may do that, before that function is defined.
	if grep 'not found' "$HK_T/err" | grep -Ev ': (h|hk|hk_[a-z0-9_]*): not found$'; then
		echo "a prefix tried to run a command that is not a hk_ name (above)"
		return 1
	fi
}

@test "the truncation harness notices a script that runs" {
	LC_ALL=C
	IFS= read -r -d '' HK_TEXT <"$HK_SCRIPT" || true
	hk_run_prefix "${#HK_TEXT}"
	[ -s "$HK_T/executed.log" ]
	grep -q '^uname -s' "$HK_T/executed.log"
}

@test "install.sh is plain ASCII, and parses under dash -n and busybox sh -n" {
	LC_ALL=C
	! grep -n '[^[:print:][:space:]]' "$HK_SCRIPT" || false
	dash -n "$HK_SCRIPT"
	busybox sh -n "$HK_SCRIPT"
}

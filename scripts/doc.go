// Package scripts holds hakube's shell scripts, chiefly install.sh (the
// 'curl -sfL <url> | sh -' installer), and no Go code: its tests drive the
// external checkers so that 'go test ./...' runs them.
//
//   - TestShellcheck: shellcheck on install.sh (POSIX sh) and the bats helpers,
//     and 'dash -n' / 'busybox sh -n'.
//   - TestInstallScriptBats: the bats suite in scripts/test, once under dash and
//     once under busybox sh, against a local HTTP server on 127.0.0.1 serving
//     release assets built into a temp dir (or $HAKUBE_TEST_DIST).
//   - TestDistBinariesUnderQemu: the arm64 and armv7 binaries run 'version' and
//     'render' under qemu-aarch64 and qemu-arm.
//   - TestDistArtifacts: the files 'make dist' leaves in dist/, when present.
//
// A missing tool fails the test and names the Debian package to install;
// with -short these tests are skipped (shellcheck still runs when installed).
package scripts

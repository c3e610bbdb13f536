package scripts

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	pkg = "github.com/hakube/hakube"
	// Stamped into the binaries these tests build.
	testVersion = "v0.0.0-test"
	testCommit  = "testcommit0"
)

// The release assets: the name suffix, GOARCH/GOARM, and the ELF machine.
var arches = []struct {
	name, goarch, goarm string
	machine             elf.Machine
	qemu                string
}{
	{"amd64", "amd64", "", elf.EM_X86_64, "qemu-x86_64"},
	{"arm64", "arm64", "", elf.EM_AARCH64, "qemu-aarch64"},
	{"armv7", "arm", "7", elf.EM_ARM, "qemu-arm"},
}

// Debian packages that provide the tools the tests run.
var aptPackage = map[string]string{
	"shellcheck": "shellcheck", "bats": "bats", "dash": "dash", "busybox": "busybox",
	"qemu-aarch64": "qemu-user", "qemu-arm": "qemu-user", "python3": "python3",
	"curl": "curl", "wget": "wget", "setsid": "util-linux", "script": "bsdutils",
	"sha256sum": "coreutils", "go": "golang (or a Go toolchain on PATH)",
}

var (
	distOnce sync.Once
	distPath string
	distErr  error
	distTmp  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if distTmp != "" {
		os.RemoveAll(distTmp)
	}
	os.Exit(code)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// needTools fails the test (skips it under -short) when a tool is missing.
func needTools(t *testing.T, tools ...string) {
	t.Helper()
	var missing, pkgs []string
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			missing = append(missing, tool)
			pkgs = append(pkgs, aptPackage[tool])
		}
	}
	if len(missing) == 0 {
		return
	}
	msg := fmt.Sprintf("%s not found on PATH: apt-get install %s", strings.Join(missing, ", "), strings.Join(pkgs, " "))
	if testing.Short() {
		t.Skip(msg)
	}
	t.Fatal(msg)
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: needs release binaries, servers or emulators")
	}
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// testDist returns a directory holding hakube-linux-{amd64,arm64,armv7}, install.sh and
// sha256sums.txt, laid out as 'make dist' does: $HAKUBE_TEST_DIST when set, otherwise built
// once per test run into a temp dir, with testVersion/testCommit stamped in. Building here
// instead of using dist/ keeps the tests independent of what 'make' last left there.
func testDist(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("HAKUBE_TEST_DIST"); d != "" {
		return d
	}
	root := repoRoot(t)
	distOnce.Do(func() {
		distTmp, distErr = os.MkdirTemp("", "hakube-dist-")
		if distErr != nil {
			return
		}
		dir := filepath.Join(distTmp, "dist")
		if distErr = os.Mkdir(dir, 0o755); distErr != nil {
			return
		}
		ldflags := fmt.Sprintf("-s -w -X %s/cmd/hakube/app.version=%s -X %s/cmd/hakube/app.commit=%s", pkg, testVersion, pkg, testCommit)
		var sums strings.Builder
		for _, a := range arches {
			out := filepath.Join(dir, "hakube-linux-"+a.name)
			start := time.Now()
			cmd := exec.Command(goTool(), "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/hakube")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+a.goarch, "GOARM="+a.goarm)
			if b, err := cmd.CombinedOutput(); err != nil {
				distErr = fmt.Errorf("go build for %s: %v\n%s", a.name, err, b)
				return
			}
			t.Logf("built hakube-linux-%s in %s", a.name, time.Since(start).Round(time.Millisecond))
		}
		script, err := os.ReadFile(filepath.Join(root, "scripts", "install.sh"))
		if err != nil {
			distErr = err
			return
		}
		if distErr = os.WriteFile(filepath.Join(dir, "install.sh"), script, 0o644); distErr != nil {
			return
		}
		for _, name := range []string{"hakube-linux-amd64", "hakube-linux-arm64", "hakube-linux-armv7", "install.sh"} {
			b, err := os.ReadFile(filepath.Join(dir, name))
			if err != nil {
				distErr = err
				return
			}
			sum := sha256.Sum256(b)
			fmt.Fprintf(&sums, "%s  %s\n", hex.EncodeToString(sum[:]), name)
		}
		distErr = os.WriteFile(filepath.Join(dir, "sha256sums.txt"), []byte(sums.String()), 0o644)
		distPath = dir
	})
	if distErr != nil {
		t.Fatal(distErr)
	}
	return distPath
}

func run(t *testing.T, timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return out.String(), err
}

func TestShellcheck(t *testing.T) {
	needTools(t, "shellcheck", "dash", "busybox")
	root := repoRoot(t)
	bats, _ := filepath.Glob(filepath.Join(root, "scripts", "test", "*.bats"))
	if len(bats) == 0 {
		t.Fatal("no bats files in scripts/test")
	}
	checks := [][]string{
		{"shellcheck", "-s", "sh", "scripts/install.sh"},
		append([]string{"shellcheck", "scripts/test/helpers.bash"}, rel(root, bats)...),
		{"dash", "-n", "scripts/install.sh"},
		{"busybox", "sh", "-n", "scripts/install.sh"},
	}
	for _, c := range checks {
		if out, err := run(t, time.Minute, root, os.Environ(), c[0], c[1:]...); err != nil {
			t.Errorf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
}

func rel(root string, paths []string) []string {
	var out []string
	for _, p := range paths {
		r, err := filepath.Rel(root, p)
		if err != nil {
			r = p
		}
		out = append(out, r)
	}
	return out
}

var batsTiming = regexp.MustCompile(`^ok \d+ (.*) in (\d+)ms$`)

func TestInstallScriptBats(t *testing.T) {
	skipShort(t)
	needTools(t, "bats", "dash", "busybox", "python3", "curl", "wget", "setsid", "script", "sha256sum")
	root := repoRoot(t)
	dist := testDist(t)
	for _, sh := range []string{"dash", "busybox sh"} {
		t.Run(strings.ReplaceAll(sh, " ", "_"), func(t *testing.T) {
			env := append(os.Environ(), "HAKUBE_TEST_SH="+sh, "HAKUBE_TEST_DIST="+dist)
			start := time.Now()
			out, err := run(t, 8*time.Minute, root, env, "bats", "--timing", "--tap", "scripts/test")
			elapsed := time.Since(start).Round(time.Millisecond)
			if err != nil {
				t.Fatalf("bats scripts/test under %s: %v\n%s", sh, err, out)
			}
			sc := bufio.NewScanner(strings.NewReader(out))
			for sc.Scan() {
				line := sc.Text()
				if m := batsTiming.FindStringSubmatch(line); m != nil && (strings.HasPrefix(m[1], "happy path") || strings.HasPrefix(m[1], "every truncated")) {
					t.Logf("%s: %sms", m[1], m[2])
				} else if strings.HasPrefix(line, "# ") {
					t.Log(line[2:])
				}
			}
			t.Logf("bats scripts/test under %s: %s", sh, elapsed)
		})
	}
}

// checkELF: a static Linux executable for the machine.
func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: ELF machine %s, want %s", path, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: not static (has %s)", path, p.Type)
		}
	}
}

// runBinary runs a dist binary, under qemu unless it is this machine's.
func runBinary(t *testing.T, qemu, bin string, args ...string) (string, string, error) {
	t.Helper()
	name := bin
	if qemu != "" {
		name, args = qemu, append([]string{bin}, args...)
	}
	home := t.TempDir()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

func hostArch() string {
	switch runtime.GOARCH {
	case "arm":
		return "armv7"
	default:
		return runtime.GOARCH
	}
}

func TestDistBinariesUnderQemu(t *testing.T) {
	skipShort(t)
	needTools(t, "qemu-aarch64", "qemu-arm")
	dist := testDist(t)
	for _, a := range arches {
		if a.name == "amd64" {
			continue
		}
		t.Run(a.name, func(t *testing.T) {
			bin := filepath.Join(dist, "hakube-linux-"+a.name)
			checkELF(t, bin, a.machine)
			qemu := a.qemu
			if a.name == hostArch() {
				qemu = ""
			}
			start := time.Now()
			out, errOut, err := runBinary(t, qemu, bin, "version")
			if err != nil {
				t.Fatalf("%s %s version: %v\n%s%s", qemu, bin, err, out, errOut)
			}
			t.Logf("%s version: %s", a.name, time.Since(start).Round(time.Millisecond))
			wantPlatform := "linux/" + a.goarch
			if os.Getenv("HAKUBE_TEST_DIST") == "" {
				for _, want := range []string{"hakube " + testVersion + "\n", "commit: " + testCommit + "\n", "go: " + runtime.Version() + "\n", "platform: " + wantPlatform + "\n"} {
					if !strings.Contains(out, want) {
						t.Errorf("version output lacks %q:\n%s", want, out)
					}
				}
			} else if !strings.Contains(out, "platform: "+wantPlatform+"\n") {
				t.Errorf("version output lacks platform %s:\n%s", wantPlatform, out)
			}

			start = time.Now()
			out, errOut, err = runBinary(t, qemu, bin, "render")
			if err != nil {
				t.Fatalf("%s %s render: %v\nstdout:\n%.2000s\nstderr:\n%s", qemu, bin, err, out, errOut)
			}
			t.Logf("%s render: %s, %d bytes", a.name, time.Since(start).Round(time.Millisecond), len(out))
			if !strings.Contains(out, "kind: StatefulSet") {
				t.Errorf("render output lacks 'kind: StatefulSet':\n%.2000s", out)
			}
		})
	}
}

// The host binary reports the stamped version (what 'make dist' relies on).
func TestVersionStamped(t *testing.T) {
	skipShort(t)
	if os.Getenv("HAKUBE_TEST_DIST") != "" {
		t.Skip("HAKUBE_TEST_DIST is set: the version is whatever it was built with")
	}
	dist := testDist(t)
	bin := filepath.Join(dist, "hakube-linux-"+hostArch())
	out, errOut, err := runBinary(t, "", bin, "version")
	if err != nil {
		t.Fatalf("version: %v\n%s%s", err, out, errOut)
	}
	want := fmt.Sprintf("hakube %s\ncommit: %s\ngo: %s\nplatform: linux/%s\n", testVersion, testCommit, runtime.Version(), runtime.GOARCH)
	if out != want {
		t.Errorf("version printed\n%s\nwant\n%s", out, want)
	}
	out, errOut, err = runBinary(t, "", bin, "version", "--output", "json")
	if err != nil || !strings.Contains(out, `"version": "`+testVersion+`"`) {
		t.Errorf("version --output json: %v\n%s%s", err, out, errOut)
	}
}

// TestDistArtifacts checks what 'make dist' left in dist/ (make test runs dist first): the three
// static binaries for their machines, install.sh, a sha256sums.txt in sha256sum format that
// matches them, and the same stamped version and commit in every binary.
func TestDistArtifacts(t *testing.T) {
	skipShort(t)
	dist := filepath.Join(repoRoot(t), "dist")
	if _, err := os.Stat(filepath.Join(dist, "sha256sums.txt")); err != nil {
		t.Skip("no dist/ here: run 'make dist' (make test does)")
	}
	needTools(t, "sha256sum", "qemu-aarch64", "qemu-arm")
	if out, err := run(t, time.Minute, dist, os.Environ(), "sha256sum", "--strict", "-c", "sha256sums.txt"); err != nil {
		t.Errorf("sha256sum -c sha256sums.txt in dist/: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dist, "sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	line := regexp.MustCompile(`^[0-9a-f]{64}  (\S+)$`)
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		m := line.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("sha256sums.txt: not in sha256sum format: %q", l)
			continue
		}
		listed[m[1]] = true
	}
	for _, name := range []string{"hakube-linux-amd64", "hakube-linux-arm64", "hakube-linux-armv7", "install.sh"} {
		if !listed[name] {
			t.Errorf("sha256sums.txt has no entry for %s", name)
		}
	}
	var first string
	for _, a := range arches {
		bin := filepath.Join(dist, "hakube-linux-"+a.name)
		checkELF(t, bin, a.machine)
		fi, err := os.Stat(bin)
		if err != nil {
			t.Fatal(err)
		}
		qemu := a.qemu
		if a.name == hostArch() {
			qemu = ""
		} else if _, err := exec.LookPath(qemu); err != nil {
			t.Errorf("%s: %s not found: apt-get install qemu-user", a.name, qemu)
			continue
		}
		out, errOut, err := runBinary(t, qemu, bin, "version")
		if err != nil {
			t.Errorf("dist/hakube-linux-%s version: %v\n%s%s", a.name, err, out, errOut)
			continue
		}
		t.Logf("dist/hakube-linux-%s: %d bytes, %s", a.name, fi.Size(), strings.SplitN(out, "\n", 2)[0])
		if strings.Contains(out, "hakube dev\n") || strings.Contains(out, "commit: unknown\n") {
			t.Errorf("dist/hakube-linux-%s: version not stamped:\n%s", a.name, out)
		}
		if !strings.Contains(out, "platform: linux/"+a.goarch+"\n") {
			t.Errorf("dist/hakube-linux-%s: wrong platform:\n%s", a.name, out)
		}
		stamp := strings.Join(strings.SplitN(out, "\n", 3)[:2], "\n") // version and commit lines
		if first == "" {
			first = stamp
		} else if stamp != first {
			t.Errorf("dist/hakube-linux-%s: version %q differs from amd64's %q", a.name, stamp, first)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dist, "install.sh")); err != nil {
		t.Errorf("dist/install.sh: %v", err)
	} else {
		t.Logf("dist/install.sh: %d bytes", len(b))
		if src, err := os.ReadFile(filepath.Join(repoRoot(t), "scripts", "install.sh")); err == nil && !bytes.Equal(b, src) {
			t.Logf("note: dist/install.sh differs from scripts/install.sh: dist/ is older than the script (make dist)")
		}
	}
}

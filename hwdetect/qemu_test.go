package hwdetect

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// qemuTarget is one release binary and the emulator that runs it here.
type qemuTarget struct {
	goarch, goarm string
	qemu          string // user-mode emulator, unless the host runs it natively
}

// TestDetectQemuSameJSON builds hakube for amd64, arm64 and armv7 as the
// release does (static, CGO off), runs 'detect --root FIXTURE --json' with
// each (arm under qemu-user), and requires the same bytes from all three,
// equal to the golden file. Nothing in the document may depend on the
// machine the binary runs on. ('go test' puts its own go first on PATH.)
func TestDetectQemuSameJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("builds three binaries and runs them under qemu: not with -short")
	}
	targets := []qemuTarget{{"amd64", "", "qemu-x86_64"}, {"arm64", "", "qemu-aarch64"}, {"arm", "7", "qemu-arm"}}
	for i := range targets {
		if targets[i].goarch == runtime.GOARCH {
			targets[i].qemu = "" // runs natively
		} else if _, err := exec.LookPath(targets[i].qemu); err != nil {
			t.Fatalf("%s not found: the %s binary cannot be run here. Install it: apt-get install qemu-user", targets[i].qemu, targets[i].goarch)
		}
	}
	bin := t.TempDir()
	for _, tg := range targets {
		out := filepath.Join(bin, "hakube-"+tg.goarch)
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", out, "github.com/hakube/hakube/cmd/hakube")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+tg.goarch, "GOARM="+tg.goarm)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build for %s: %v\n%s", tg.goarch, err, b)
		}
	}
	for _, name := range fixtureNames(t) {
		t.Run(name, func(t *testing.T) {
			root := buildFixture(t, name)
			var ref []byte
			for _, tg := range targets {
				args := []string{filepath.Join(bin, "hakube-"+tg.goarch), "detect", "--root", root, "--json"}
				if tg.qemu != "" {
					args = append([]string{tg.qemu}, args...)
				}
				cmd := exec.Command(args[0], args[1:]...)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				got, err := cmd.Output()
				if err != nil {
					t.Fatalf("%s: %v\n%s", tg.goarch, err, stderr.Bytes())
				}
				if ref == nil {
					ref = got
					// The golden file names the root FIXTURE.
					norm := bytes.Replace(got, []byte(strconv.Quote(root)), []byte(strconv.Quote(fixtureRoot)), 1)
					want, err := os.ReadFile(filepath.Join("testdata", "golden", name+".json"))
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(norm, want) {
						t.Errorf("%s output differs from testdata/golden/%s.json:\n%s", tg.goarch, name, norm)
					}
					continue
				}
				if !bytes.Equal(got, ref) {
					t.Errorf("%s output differs from amd64's:\n--- %s\n%s\n--- amd64\n%s", tg.goarch, tg.goarch, got, ref)
				}
			}
		})
	}
}

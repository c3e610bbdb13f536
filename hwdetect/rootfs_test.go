package hwdetect

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakube/hakube/hwdetect/fixture"
)

// A tree whose links try every way out of the root: all of them must land
// inside it.
const escapeTree = `
-- etc/passwd --
inside
-- sys/class/net/eth0 -> ../../../../../../../../etc --
-- sys/abs -> /etc --
-- sys/dotdot -> ../.. --
-- sys/chain -> abs/../etc/passwd --
-- sys/loop -> loop2 --
-- sys/loop2 -> loop --
-- sys/dangling -> /nowhere/at/all --
-- sys/file/notadir = "x" --
`

func TestResolveStaysInsideRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		t.Fatal(err)
	}
	// A decoy right outside the root, where an escaping link would land.
	if err := os.MkdirAll(filepath.Join(parent, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(parent, "etc", "passwd"), []byte("OUTSIDE\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fixture.Build(root, []byte(escapeTree)); err != nil {
		t.Fatal(err)
	}
	r := rootFS{root: root}
	for _, p := range []string{"/etc/passwd", "/sys/class/net/eth0/passwd", "/sys/abs/passwd", "/sys/dotdot/etc/passwd",
		"/../../etc/passwd", "/sys/chain"} {
		s, err := r.readString(p)
		if err != nil || s != "inside" {
			t.Errorf("read %s = %q, %v; want the file inside the root", p, s, err)
		}
	}
	if got, err := r.resolve("/sys/class/net/eth0"); err != nil || got != "/etc" {
		t.Errorf("resolve = %q, %v; want /etc", got, err)
	}
	if _, err := r.resolve("/sys/loop"); !errors.Is(err, errLoop) {
		t.Errorf("loop: %v, want %v", err, errLoop)
	}
	if _, err := r.resolve("/sys/dangling"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("dangling: %v, want not exist", err)
	}
	if _, err := r.resolve("/sys/file/notadir/x"); err == nil {
		t.Error("a file used as a directory resolved")
	}
	// Errors name paths inside the tree, never this machine's.
	_, err := r.readFile("/sys/dangling")
	if err == nil || strings.Contains(describeErr(err), root) {
		t.Errorf("error %q leaks the machine path %s", describeErr(err), root)
	}
	if names, err := r.readDir("/no/such/dir"); err != nil || names != nil {
		t.Errorf("missing dir = %v, %v; want nothing", names, err)
	}
}

func TestFixtureArchive(t *testing.T) {
	for _, bad := range []string{"-- ../x --\n", "-- /abs --\n", "-- a = notquoted --\n", "-- a -> b --\ncontent\n"} {
		if _, err := fixture.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	es, err := fixture.Parse([]byte("comment\n-- a/b --\nx\ny\n-- c = \"\\x00z\" --\n-- d/ --\n-- e -> /a --\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 4 || string(es[0].Data) != "x\ny\n" || string(es[1].Data) != "\x00z" || !es[2].Dir || es[3].Link != "/a" {
		t.Errorf("Parse = %+v", es)
	}
}

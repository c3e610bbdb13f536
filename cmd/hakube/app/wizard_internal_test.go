package app

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfirmUninstallSaysWhatIsKept(t *testing.T) {
	for answer, want := range map[string]bool{"y\n": true, "yes\n": true, "\n": false, "n\n": false, "": false} {
		var out bytes.Buffer
		if got := confirmUninstall(strings.NewReader(answer), &out, "home-assistant", "/etc/hakube"); got != want {
			t.Errorf("answer %q: %v, want %v", answer, got, want)
		}
		for _, s := range []string{"namespace home-assistant", "It keeps:", "every volume", "/etc/hakube", "--purge", "[y/N]"} {
			if !strings.Contains(out.String(), s) {
				t.Errorf("the question lacks %q:\n%s", s, out.String())
			}
		}
	}
}

func TestHostTimezone(t *testing.T) {
	root := t.TempDir()
	if z := hostTimezone(root, []string{"TZ=Europe/Berlin"}); z != "Europe/Berlin" {
		t.Errorf("TZ: %q", z)
	}
	if z := hostTimezone(root, []string{"TZ=:/etc/localtime"}); z != "" {
		t.Errorf("a TZ path is not a zone name: %q", z)
	}
	if err := writeFile(root, "etc/timezone", "America/New_York\n"); err != nil {
		t.Fatal(err)
	}
	if z := hostTimezone(root, nil); z != "America/New_York" {
		t.Errorf("/etc/timezone: %q", z)
	}
	if err := symlink(root, "etc/localtime", "/usr/share/zoneinfo/Asia/Tokyo"); err != nil {
		t.Fatal(err)
	}
	if z := hostTimezone(root, nil); z != "Asia/Tokyo" {
		t.Errorf("/etc/localtime: %q", z)
	}
}

func writeFile(root, rel, data string) error {
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(data), 0o644)
}

func symlink(root, rel, target string) error {
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.Symlink(target, p)
}

func TestWantsWizard(t *testing.T) {
	for _, c := range []struct {
		o      installOptions
		output string
		want   bool
	}{
		{installOptions{}, "text", true},
		{installOptions{yes: true}, "text", false},
		{installOptions{configFile: "site.yaml"}, "text", false},
		{installOptions{}, "json", false},
		{installOptions{accessible: true}, "text", true},
	} {
		if got := wantsWizard(&globals{output: c.output}, &c.o); got != c.want {
			t.Errorf("%+v --output %s: wizard %v, want %v", c.o, c.output, got, c.want)
		}
	}
}

package app

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakube/hakube/hwdetect"
	"github.com/hakube/hakube/hwdetect/fixture"
)

// buildDetectFixture builds one of hwdetect's fixture trees.
func buildDetectFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixture.BuildFile(dir, filepath.Join("..", "..", "..", "hwdetect", "testdata", "fixtures", name+".txtar")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func runDetectCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, nil)
	return code, out.String(), errb.String()
}

func TestDetectJSON(t *testing.T) {
	root := buildDetectFixture(t, "rpi4-2g-zbdongle-e")
	for _, args := range [][]string{
		{"detect", "--root", root, "--json"},
		{"detect", "--root", root, "--output", "json"},
		{"--output", "json", "detect", "--root", root},
	} {
		code, out, errOut := runDetectCmd(t, args...)
		if code != ExitOK || errOut != "" {
			t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
		}
		var r hwdetect.Report
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("%v: not the report document: %v\n%s", args, err, out)
		}
		if r.Schema != hwdetect.Schema || r.Root != root || r.Live {
			t.Errorf("%v: schema %q root %q live %v", args, r.Schema, r.Root, r.Live)
		}
		zs := r.ZigbeeCoordinators()
		if len(zs) != 1 || zs[0].Adapter != "ember" || !strings.HasPrefix(zs[0].Path, "/dev/serial/by-id/") {
			t.Errorf("%v: coordinators %+v", args, zs)
		}
	}
}

func TestDetectText(t *testing.T) {
	root := buildDetectFixture(t, "rpi3-cgroup-off")
	code, out, _ := runDetectCmd(t, "detect", "--root", root)
	// Problems are reported, not failed on: detect is a report.
	if code != ExitOK {
		t.Fatalf("exit %d, want 0 even with problems", code)
	}
	for _, want := range []string{
		"Board\n", "Raspberry Pi 3 Model B Plus Rev 1.3", "Radios\n", "Host readiness\n",
		"PROBLEM  memory cgroup", "fix: append cgroup_memory=1 cgroup_enable=memory to the single line in /boot/cmdline.txt",
		"2 problems to fix before installing.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}

	root = buildDetectFixture(t, "nuc-conbee2-zstick7")
	_, out, _ = runDetectCmd(t, "detect", "--root", root, "--coordinator", "tcp://192.168.1.40:6638")
	for _, want := range []string{
		"/dev/ttyACM0: ConBee II", "Zigbee coordinator → Zigbee2MQTT adapter deconz, baudrate 38400, rtscts false: one of 2 coordinators",
		"/dev/ttyACM1: Aeotec Z-Stick Gen5 / 7, UZB", "Z-Wave stick", "tcp://192.168.1.40:6638: network coordinator",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
}

func TestDetectUsageErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-card")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"detect", "--root", missing}, "cannot inspect: root " + missing + ": no such file or directory"},
		{[]string{"detect", "--coordinator", "192.168.1.40"}, "--coordinator: network coordinator \"192.168.1.40\": give tcp://host:port or mdns://name"},
		{[]string{"detect", "extra"}, "unknown command"},
	} {
		code, out, errOut := runDetectCmd(t, tc.args...)
		if code != ExitUsage || out != "" || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d and %q", tc.args, code, out, errOut, ExitUsage, tc.want)
		}
	}
}

package app

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(args, Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, nil)
	return code, out.String(), errb.String()
}

// backupDataDir lays out k3s's data directory with a backups volume holding
// one archive written by the real backup program, and one damaged archive.
func backupDataDir(t *testing.T) (dataDir, good string) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Fatal("python3 is needed for this test: apt-get install python3")
	}
	dataDir = t.TempDir()
	vol := filepath.Join(dataDir, "storage", "pvc-1_home-assistant_home-assistant-backups-0")
	src := t.TempDir()
	for p, c := range map[string]string{"hakube/config.yaml": "namespace: home-assistant\n", "esphome/a.yaml": "x\n"} {
		if err := os.MkdirAll(filepath.Join(src, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(src, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "backup.py")
	if err := os.WriteFile(script, []byte(manifests.BackupScript()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", script)
	cmd.Env = append(os.Environ(), "BACKUP_DIR="+vol, "WORK_DIR="+t.TempDir(), "RETENTION_DAYS=14",
		"SOURCES=hakube:"+filepath.Join(src, "hakube")+" esphome:"+filepath.Join(src, "esphome"))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	archives, _ := filepath.Glob(filepath.Join(vol, "hakube-*.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("archives: %v", archives)
	}
	if err := os.WriteFile(filepath.Join(vol, "hakube-20200101T000000Z.tar.gz"), []byte("not gzip"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dataDir, archives[0]
}

func TestBackupListAndPull(t *testing.T) {
	dataDir, good := backupDataDir(t)
	state := t.TempDir()
	code, out, errOut := runCmd(t, "backup", "list", "--data-dir", dataDir, "--state-dir", state, "--output", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var list []installer.BackupArchive
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(list) != 2 || !list[0].Good || list[0].Path != good || list[1].Good || list[0].Where != "backups volume" {
		t.Fatalf("list: %+v", list)
	}
	if strings.Join(list[0].Contents, ",") != "hakube,esphome" {
		t.Fatalf("contents: %v", list[0].Contents)
	}
	code, out, _ = runCmd(t, "backup", "list", "--data-dir", dataDir, "--state-dir", state)
	if code != ExitOK || !strings.Contains(out, "DAMAGED") || !strings.Contains(out, "good") {
		t.Fatalf("text list: %d %s", code, out)
	}

	dest := filepath.Join(t.TempDir(), "copy.tar.gz")
	code, _, errOut = runCmd(t, "backup", "pull", "--to", dest, "--data-dir", dataDir, "--state-dir", state)
	if code != ExitOK {
		t.Fatalf("pull: exit %d: %s", code, errOut)
	}
	a, _ := os.ReadFile(good)
	b, _ := os.ReadFile(dest)
	fi, _ := os.Stat(dest)
	if !bytes.Equal(a, b) || fi.Mode().Perm() != 0o600 {
		t.Fatalf("pulled copy differs or mode %v", fi.Mode())
	}
	code, _, errOut = runCmd(t, "backup", "pull", "--to", dest, "--data-dir", dataDir, "--state-dir", state)
	if code == ExitOK || !strings.Contains(errOut, "exists") {
		t.Fatalf("pull over an existing file: exit %d: %s", code, errOut)
	}
}

func TestRestoreRefusesDamagedArchive(t *testing.T) {
	dataDir, _ := backupDataDir(t)
	state := filepath.Join(t.TempDir(), "state")
	bad := filepath.Join(dataDir, "storage", "pvc-1_home-assistant_home-assistant-backups-0", "hakube-20200101T000000Z.tar.gz")
	code, out, errOut := runCmd(t, "restore", bad, "--yes", "--data-dir", dataDir, "--state-dir", state)
	if code != ExitUsage || !strings.Contains(errOut, "damaged or incomplete") || !strings.Contains(errOut, "nothing was changed") {
		t.Fatalf("exit %d, out %q, err %q", code, out, errOut)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Fatalf("the state directory was touched: %v", err)
	}
}

// TestDayTwoCommandsPrintNoSecret: backup list, pull, doctor and restore
// (up to its confirmation) handle archives full of credentials and print
// none of them.
func TestDayTwoCommandsPrintNoSecret(t *testing.T) {
	cfg := config.Defaults(config.ProfileProduction)
	state, dataDir := installOffline(t, cfg)
	sec, err := installer.StateDir{Path: state}.Secrets()
	if err != nil {
		t.Fatal(err)
	}
	vol := filepath.Join(dataDir, "storage", "pvc-1_home-assistant_home-assistant-backups-0")
	if err := os.MkdirAll(vol, 0o700); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "backup.py")
	if err := os.WriteFile(script, []byte(manifests.BackupScript()), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("python3", script)
	cmd.Env = append(os.Environ(), "BACKUP_DIR="+vol, "WORK_DIR="+t.TempDir(), "RETENTION_DAYS=14", "SOURCES=hakube:"+state)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	archives, _ := filepath.Glob(filepath.Join(vol, "hakube-*.tar.gz"))
	if len(archives) != 1 {
		t.Fatalf("archives: %v", archives)
	}
	var all strings.Builder
	global := []string{"--state-dir", state, "--data-dir", dataDir, "--kubeconfig", filepath.Join(t.TempDir(), "none")}
	for _, args := range [][]string{
		{"backup", "list"}, {"backup", "list", "-o", "json"}, {"backup", "pull", "--to", filepath.Join(t.TempDir(), "x.tar.gz")},
		{"doctor"}, {"doctor", "-o", "json"}, {"restore", archives[0]}, {"restore", archives[0], "-o", "json"},
	} {
		_, out, errOut := runCmd(t, append(args, global...)...)
		all.WriteString(out + errOut)
	}
	if !strings.Contains(all.String(), "It will overwrite") {
		t.Fatalf("restore did not show its plan:\n%s", all.String())
	}
	for _, v := range []string{sec.MQTTHomeAssistant.Password, sec.MQTTNodeRED.Password, sec.MQTTZigbee2MQTT.Password,
		sec.NodeREDPassword, sec.NodeREDCredentialSecret, sec.ESPHomePassword, sec.Zigbee2MQTTAuthToken, sec.PostgreSQLPassword} {
		if strings.Contains(all.String(), v) {
			t.Fatal("a secret reached the output of a day-two command")
		}
	}
}

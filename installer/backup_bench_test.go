package installer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hakube/hakube/manifests"
)

// BenchmarkBackupRestore measures the real backup program and the host-side
// restore for a 200 MB Home Assistant SQLite database (rows shaped like the
// recorder's states) plus the other volumes: Zigbee2MQTT 2 MB, Node-RED
// 20 MB (2,000 files of 10 KB, like node_modules), ESPHome 5 MB, hakube's
// state. Rerun with:
//
//	go test ./installer -run '^$' -bench BenchmarkBackupRestore -benchtime 1x
func BenchmarkBackupRestore(b *testing.B) {
	for _, tool := range []string{"python3", "sqlite3"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Fatalf("%s is needed: apt-get install python3 sqlite3", tool)
		}
	}
	vol := b.TempDir()
	mk := func(p string, data []byte) {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	pseudo := func(n, seed int) []byte {
		out := make([]byte, n)
		x := uint32(seed*2654435761 + 1)
		for i := range out {
			x ^= x << 13
			x ^= x >> 17
			x ^= x << 5
			out[i] = "abcdefghijklmnopqrstuvwxyz0123456789{}\":, "[x%42]
		}
		return out
	}
	mk(filepath.Join(vol, "hakube", "config.yaml"), []byte("namespace: home-assistant\n"))
	mk(filepath.Join(vol, "hakube", "secrets.json"), pseudo(2000, 1))
	mk(filepath.Join(vol, "home-assistant", "configuration.yaml"), []byte("default_config:\n"))
	mk(filepath.Join(vol, "home-assistant", ".storage", "core.entity_registry"), pseudo(500<<10, 2))
	db := filepath.Join(vol, "home-assistant", "home-assistant_v2.db")
	const rows = 1_230_000
	sql := fmt.Sprintf(`PRAGMA journal_mode=WAL;
CREATE TABLE states(state_id INTEGER PRIMARY KEY, entity_id TEXT, state TEXT, attributes TEXT, last_updated REAL);
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < %d)
INSERT INTO states(entity_id, state, attributes, last_updated)
SELECT 'sensor.s' || (x %% 500), printf('%%.2f', abs(random() %% 10000) / 100.0),
  '{"unit_of_measurement":"°C","friendly_name":"Sensor ' || (x %% 500) || '","device_class":"temperature","context":"' || hex(randomblob(12)) || '"}',
  1700000000 + x FROM c;`, rows)
	if out, err := exec.Command("sqlite3", db, sql).CombinedOutput(); err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	mk(filepath.Join(vol, "zigbee2mqtt", "database.db"), pseudo(2<<20, 3))
	mk(filepath.Join(vol, "zigbee2mqtt", "coordinator_backup.json"), pseudo(4<<10, 4))
	for i := 0; i < 2000; i++ {
		mk(filepath.Join(vol, "nodered", "node_modules", fmt.Sprintf("m%d", i/50), fmt.Sprintf("f%d.js", i)), pseudo(10<<10, 10+i))
	}
	mk(filepath.Join(vol, "nodered", "flows.json"), pseudo(200<<10, 5))
	mk(filepath.Join(vol, "esphome", "devices.yaml"), pseudo(5<<20, 6))
	fi, _ := os.Stat(db)
	var sources []string
	for _, c := range []string{"hakube", "home-assistant", "zigbee2mqtt", "nodered", "esphome"} {
		sources = append(sources, c+":"+filepath.Join(vol, c))
	}
	script := filepath.Join(b.TempDir(), "backup.py")
	if err := os.WriteFile(script, []byte(manifests.BackupScript()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	var backupT, restoreT time.Duration
	var size int64
	for i := 0; i < b.N; i++ {
		out := b.TempDir()
		start := time.Now()
		cmd := exec.Command("python3", script)
		cmd.Env = append(os.Environ(), "BACKUP_DIR="+out, "WORK_DIR="+b.TempDir(), "RETENTION_DAYS=14", "SOURCES="+strings.Join(sources, " "))
		if o, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, o)
		}
		backupT += time.Since(start)
		archives, _ := filepath.Glob(filepath.Join(out, "hakube-*.tar.gz"))
		if len(archives) != 1 {
			b.Fatalf("archives: %v", archives)
		}
		afi, _ := os.Stat(archives[0])
		size = afi.Size()
		targets := map[string]string{}
		dest := b.TempDir()
		for _, c := range []string{"hakube", "home-assistant", "zigbee2mqtt", "nodered", "esphome"} {
			targets[c] = filepath.Join(dest, c)
		}
		start = time.Now()
		res, err := ExtractBackup(archives[0], targets, "bench")
		if err != nil {
			b.Fatal(err)
		}
		man, err := VerifyArchive(archives[0])
		if err != nil {
			b.Fatal(err)
		}
		if err := CheckRestored(man, res.Restored); err != nil {
			b.Fatal(err)
		}
		restoreT += time.Since(start)
	}
	b.ReportMetric(float64(fi.Size())/(1<<20), "sqlite-MiB")
	b.ReportMetric(float64(size)/(1<<20), "archive-MiB")
	b.ReportMetric(backupT.Seconds()/float64(b.N), "backup-s")
	b.ReportMetric(restoreT.Seconds()/float64(b.N), "restore-s")
}

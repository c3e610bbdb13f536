//go:build linux

package manifests_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml3 "go.yaml.in/yaml/v3"
)

// mountVolume lays files out as the kubelet mounts a ConfigMap or Secret
// volume: the data in a timestamped directory, "..data" pointing at it, and
// each key a symlink through "..data".
func mountVolume(t *testing.T, files map[string]string, mode os.FileMode) string {
	t.Helper()
	dir := t.TempDir()
	ts := filepath.Join(dir, "..2026_01_01_00_00_00.000000001")
	require.NoError(t, os.Mkdir(ts, 0o755))
	for name, content := range files {
		p := filepath.Join(ts, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		require.NoError(t, os.Symlink(filepath.Join("..data", name), filepath.Join(dir, name)))
	}
	require.NoError(t, os.Symlink(filepath.Base(ts), filepath.Join(dir, "..data")))
	return dir
}

// seedShells are the shells seed.sh must work with: dash (Debian's sh) and
// BusyBox ash, which is the sh of the Alpine-based Home Assistant image.
func seedShells(t *testing.T) map[string][]string {
	t.Helper()
	shells := map[string][]string{"dash": {tool(t, "dash", "apt-get install -y dash")}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells["busybox"] = []string{bb, "sh"}
	} else {
		t.Log("busybox is not installed, so seed.sh is not run with BusyBox ash (the image's sh): apt-get install -y busybox")
	}
	return shells
}

type seedEnv struct {
	shell   []string
	script  string // the rendered seed.sh, where the pod mounts it: in the seed dir
	seed    string // HAKUBE_SEED_DIR: the home-assistant-config ConfigMap
	secrets string // HAKUBE_SEED_SECRETS_DIR: the home-assistant-recorder Secret
	config  string // HAKUBE_CONFIG_DIR: the config volume
}

func (e seedEnv) run(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.shell[0], append(e.shell[1:], e.script)...)
	cmd.Env = append(baseEnv(t.TempDir()),
		"HAKUBE_CONFIG_DIR="+e.config, "HAKUBE_SEED_DIR="+e.seed, "HAKUBE_SEED_SECRETS_DIR="+e.secrets)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "seed.sh failed:\n%s", out)
	return string(out)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

// packagesInclude reports whether configuration.yaml, parsed as YAML with
// Home Assistant's tags, has homeassistant: packages: !include_dir_named packages.
func packagesInclude(t *testing.T, content string) bool {
	t.Helper()
	var doc yaml3.Node
	require.NoError(t, yaml3.Unmarshal([]byte(content), &doc), "configuration.yaml is not valid YAML:\n%s", content)
	require.Len(t, doc.Content, 1)
	top := doc.Content[0]
	require.Equal(t, yaml3.MappingNode, top.Kind)
	seen := 0
	found := false
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value != "homeassistant" {
			continue
		}
		seen++
		ha := top.Content[i+1]
		for j := 0; ha.Kind == yaml3.MappingNode && j+1 < len(ha.Content); j += 2 {
			v := ha.Content[j+1]
			if ha.Content[j].Value == "packages" && v.Tag == "!include_dir_named" && v.Value == "packages" {
				found = true
			}
		}
	}
	require.LessOrEqual(t, seen, 1, "configuration.yaml has more than one homeassistant: key:\n%s", content)
	return found
}

func TestSeedScript(t *testing.T) {
	st := renderStack(t)
	ha := st.container(t, "home-assistant", "seed-config")
	require.Equal(t, []string{"sh", "/hakube/seed.sh"}, ha.Command)
	script := st.configData(t, "home-assistant-config", "seed.sh")
	pkg := st.configData(t, "home-assistant-config", "hakube.yaml")
	secrets := st.secretData(t, "home-assistant-recorder", "secrets.yaml")
	require.Contains(t, pkg, "!secret recorder_db_url")

	for name, shell := range seedShells(t) {
		newEnv := func(t *testing.T, withSecret bool) seedEnv {
			e := seedEnv{
				shell:   shell,
				seed:    mountVolume(t, map[string]string{"seed.sh": script, "hakube.yaml": pkg}, 0o644),
				secrets: filepath.Join(t.TempDir(), "absent"), // no recorder-secret volume
				config:  t.TempDir(),
			}
			e.script = filepath.Join(e.seed, "seed.sh")
			if withSecret {
				e.secrets = mountVolume(t, map[string]string{"secrets.yaml": secrets}, 0o400) // defaultMode 0400
			}
			return e
		}
		t.Run(name, func(t *testing.T) {
			t.Run("empty config gets a first configuration", func(t *testing.T) {
				e := newEnv(t, true)
				out := e.run(t)
				assert.Contains(t, out, "writing a first configuration.yaml")
				conf := readFile(t, filepath.Join(e.config, "configuration.yaml"))
				assert.True(t, packagesInclude(t, conf), "the first configuration.yaml must include the packages:\n%s", conf)
				assert.Contains(t, conf, "default_config:")
				assert.Equal(t, "[]\n", readFile(t, filepath.Join(e.config, "automations.yaml")))
				for _, f := range []string{"scripts.yaml", "scenes.yaml", "secrets.yaml"} {
					assert.FileExists(t, filepath.Join(e.config, f))
				}
				assert.Equal(t, pkg, readFile(t, filepath.Join(e.config, "packages", "hakube", "hakube.yaml")))
				assert.Equal(t, secrets, readFile(t, filepath.Join(e.config, "packages", "hakube", "secrets.yaml")))

				// A restart: nothing of the user's is rewritten.
				require.NoError(t, os.WriteFile(filepath.Join(e.config, "automations.yaml"), []byte("- id: mine\n"), 0o644))
				out = e.run(t)
				assert.NotContains(t, out, "writing")
				assert.NotContains(t, out, "adding")
				assert.Equal(t, conf, readFile(t, filepath.Join(e.config, "configuration.yaml")))
				assert.Equal(t, "- id: mine\n", readFile(t, filepath.Join(e.config, "automations.yaml")))
			})

			t.Run("user configuration without homeassistant gets the include once", func(t *testing.T) {
				e := newEnv(t, false)
				user := "# mine\ndefault_config:\nautomation: !include automations.yaml\nlight:\n  - platform: group\n    name: Kitchen\n    entities: [light.a, light.b]" // no final newline
				path := filepath.Join(e.config, "configuration.yaml")
				require.NoError(t, os.WriteFile(path, []byte(user), 0o644))
				out := e.run(t)
				assert.Contains(t, out, "adding the packages include")
				got := readFile(t, path)
				assert.True(t, strings.HasPrefix(got, user), "the user's content must stay as it was")
				assert.True(t, packagesInclude(t, got), "the include must be appended:\n%s", got)
				assert.Equal(t, 1, strings.Count(got, "!include_dir_named packages"))

				out = e.run(t)
				assert.NotContains(t, out, "adding")
				assert.Equal(t, got, readFile(t, path), "a second run must add nothing")
			})

			t.Run("user homeassistant block is left alone with a warning", func(t *testing.T) {
				e := newEnv(t, false)
				user := "homeassistant:\n  name: Home\n  unit_system: metric\n\ndefault_config:\n"
				path := filepath.Join(e.config, "configuration.yaml")
				require.NoError(t, os.WriteFile(path, []byte(user), 0o644))
				out := e.run(t)
				assert.Contains(t, out, "WARNING")
				assert.Contains(t, out, "packages: !include_dir_named packages", "the warning must say what to add")
				assert.Equal(t, user, readFile(t, path))
				assert.FileExists(t, filepath.Join(e.config, "packages", "hakube", "hakube.yaml"), "the package is still written")
			})

			t.Run("user homeassistant block with the include is left alone quietly", func(t *testing.T) {
				e := newEnv(t, false)
				user := "homeassistant:\n  name: Home\n  packages: !include_dir_named packages\n"
				path := filepath.Join(e.config, "configuration.yaml")
				require.NoError(t, os.WriteFile(path, []byte(user), 0o644))
				out := e.run(t)
				assert.NotContains(t, out, "WARNING")
				assert.Equal(t, user, readFile(t, path))
			})

			t.Run("recorder secrets are private and follow the secret", func(t *testing.T) {
				e := newEnv(t, true)
				e.run(t)
				path := filepath.Join(e.config, "packages", "hakube", "secrets.yaml")
				fi, err := os.Stat(path)
				require.NoError(t, err)
				assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "secrets.yaml mode")
				assert.Equal(t, secrets, readFile(t, path))
				matches, _ := filepath.Glob(filepath.Join(e.config, "packages", "hakube", "*.new"))
				assert.Empty(t, matches, "no temporary file is left behind")

				// The database was switched to SQLite: no secret volume any more.
				e.secrets = filepath.Join(t.TempDir(), "absent")
				e.run(t)
				assert.NoFileExists(t, path)
			})
		})
	}
}

func TestSeedScriptFailsOnMissingPackage(t *testing.T) {
	// set -e: a seed that cannot write the package must stop the pod, not
	// start Home Assistant without its settings.
	st := renderStack(t)
	script := st.configData(t, "home-assistant-config", "seed.sh")
	sh := tool(t, "dash", "apt-get install -y dash")
	seed := mountVolume(t, map[string]string{"seed.sh": script}, 0o644) // no hakube.yaml
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sh, filepath.Join(seed, "seed.sh"))
	cfg := t.TempDir()
	cmd.Env = append(baseEnv(t.TempDir()), "HAKUBE_CONFIG_DIR="+cfg, "HAKUBE_SEED_DIR="+seed, "HAKUBE_SEED_SECRETS_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	assert.Error(t, err, fmt.Sprintf("seed.sh must fail:\n%s", out))
	assert.NoFileExists(t, filepath.Join(cfg, "configuration.yaml"))
}

package config_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
)

var wantRE = regexp.MustCompile(`^# want: line=(\d+) key=(\S*) msg=(.+)$`)

func TestInvalidFlagsFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid-*.yaml")
	require.NoError(t, err)
	require.GreaterOrEqual(t, len(paths), 25)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			require.NoError(t, err)
			first, _, _ := strings.Cut(string(data), "\n")
			m := wantRE.FindStringSubmatch(first)
			require.NotNil(t, m, "first line must be '# want: line=N key=K msg=M'")
			line, key, msg := m[1], m[2], m[3]

			_, err = config.Load(config.Sources{File: path, FileData: data})
			require.Error(t, err)
			var cerr *config.Error
			require.True(t, errors.As(err, &cerr), "want a *config.Error, got %T: %v", err, err)
			text := err.Error()
			assert.Contains(t, text, path+":"+line+":", "the message names the file and line")
			if key != "" {
				assert.Contains(t, text, ": "+key+": ", "the message names the key")
			}
			assert.Contains(t, text, msg)
			found := false
			for _, p := range cerr.Problems {
				if strconv.Itoa(p.Source.Line) == line && p.Key == key && strings.Contains(p.Msg, msg) {
					found = true
				}
			}
			assert.True(t, found, "no single problem with line %s, key %q and %q in:\n%s", line, key, msg, text)
		})
	}
}

func TestValidFlagsFiles(t *testing.T) {
	paths, err := filepath.Glob("testdata/valid-*.yaml")
	require.NoError(t, err)
	require.NotEmpty(t, paths)
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			res, err := config.Load(config.Sources{File: path})
			require.NoError(t, err)
			require.NoError(t, res.Config.Validate())
		})
	}
}

func TestValidFileValues(t *testing.T) {
	res, err := config.Load(config.Sources{File: "testdata/valid-edge-zigbee.yaml"})
	require.NoError(t, err)
	c := res.Config
	assert.Equal(t, config.ProfileEdge, c.Profile)
	assert.True(t, c.Has(config.Zigbee2MQTT), "a zigbee device turns Zigbee2MQTT on")
	assert.True(t, c.Has(config.MQTT))
	assert.Equal(t, "ember", c.ZigbeeAdapter)
	assert.True(t, c.HostNetwork)
	assert.Equal(t, config.MonitoringOff, c.Monitoring)
	assert.Equal(t, "Europe/Berlin", c.Timezone)

	res, err = config.Load(config.Sources{File: "testdata/valid-production.yaml"})
	require.NoError(t, err)
	assert.True(t, res.Config.IngressTLS, "production serves TLS when it has a host")
	assert.Equal(t, config.DatabasePostgreSQL, res.Config.Database)
	assert.Equal(t, config.ClusterIP, res.Config.ServiceType, "behind a TLS Ingress there is no plain-HTTP LoadBalancer")
	assert.Equal(t, "20Gi", res.Config.Volumes.Config)
}

func TestProfileDefaults(t *testing.T) {
	for _, tc := range []struct {
		p   config.Profile
		db  config.Database
		svc config.ServiceType
	}{
		{config.ProfileEdge, config.DatabaseSQLite, config.NodePort},
		{config.ProfileBasic, config.DatabaseSQLite, config.ClusterIP},
		{config.ProfileProduction, config.DatabasePostgreSQL, config.LoadBalancer},
		{config.ProfileExternalDB, config.DatabaseExternal, config.NodePort},
	} {
		c := config.Defaults(tc.p)
		assert.Equal(t, tc.db, c.Database, tc.p)
		assert.Equal(t, tc.svc, c.ServiceType, tc.p)
		assert.Equal(t, 30123, c.NodePort)
		assert.Equal(t, config.RetainStorageClass, c.StorageClass, "new installs keep data when a claim goes")
	}
	res, err := config.Load(config.Sources{})
	require.NoError(t, err)
	assert.Equal(t, config.ProfileEdge, res.Config.Profile, "edge is the default profile")
}

func TestPrecedence(t *testing.T) {
	file := []byte("node-port: 30001\ntimezone: Europe/Paris\nnamespace: from-file\n")
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--node-port=30003"}))
	res, err := config.Load(config.Sources{
		File: "site.yaml", FileData: file,
		Environ: []string{"HAKUBE_NODE_PORT=30002", "HAKUBE_TIMEZONE=Europe/Rome", "PATH=/bin"},
		Flags:   fs,
	})
	require.NoError(t, err)
	assert.Equal(t, 30003, res.Config.NodePort, "flags beat environment")
	assert.Equal(t, "Europe/Rome", res.Config.Timezone, "environment beats the file")
	assert.Equal(t, "from-file", res.Config.Namespace, "the file beats defaults")
	_, src, ok := res.Set.Value("node-port")
	require.True(t, ok)
	assert.Equal(t, "flag --node-port", src.String())
}

func TestAnswersAreALayerBetweenFileAndEnvironment(t *testing.T) {
	var answers config.Settings
	require.NoError(t, answers.Set("node-port", "30010", config.WizardSource("Reaching it")))
	require.NoError(t, answers.Set("components", []string{"mqtt"}, config.WizardSource("Components")))
	require.NoError(t, answers.Set("host-network", true, config.WizardSource("Reaching it")))
	require.NoError(t, answers.Set("timezone", "Europe/Oslo", config.WizardSource("Reaching it")))
	res, err := config.Load(config.Sources{
		File: "site.yaml", FileData: []byte("node-port: 30001\nnamespace: from-file\ntimezone: Europe/Paris\n"),
		Answers: answers,
		Environ: []string{"HAKUBE_TIMEZONE=Europe/Rome"},
	})
	require.NoError(t, err)
	assert.Equal(t, 30010, res.Config.NodePort, "answers beat the file")
	assert.Equal(t, "from-file", res.Config.Namespace, "the file still counts")
	assert.Equal(t, "Europe/Rome", res.Config.Timezone, "environment beats answers")
	assert.Equal(t, []config.Component{config.MQTT}, res.Config.Components)
	assert.True(t, res.Config.HostNetwork)
	_, src, _ := res.Set.Value("node-port")
	assert.Equal(t, "wizard (Reaching it)", src.String())
}

func TestAnswersAreValidatedLikeEveryLayer(t *testing.T) {
	var answers config.Settings
	err := answers.Set("node-prot", "30010", config.WizardSource("Reaching it"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `wizard (Reaching it): node-prot: unknown key; did you mean "node-port"?`)
	err = answers.Set("node-port", true, config.WizardSource("Reaching it"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "node-port: must be a whole number")
	assert.False(t, answers.IsSet("node-port"), "a refused value is not kept")

	require.NoError(t, answers.Set("node-port", 99, config.WizardSource("Reaching it")))
	_, err = config.Load(config.Sources{Answers: answers})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "wizard (Reaching it): node-port: 99 is outside the NodePort range")
	answers.Unset("node-port")
	_, err = config.Load(config.Sources{Answers: answers})
	require.NoError(t, err)
}

func TestUnknownKeyDoesNotHideOtherProblems(t *testing.T) {
	data := []byte("node-port: 99\nprofil: edge\nhost-network: maybe\ntimezone: Nowhere/Land\n")
	_, err := config.Load(config.Sources{File: "f.yaml", FileData: data})
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr))
	var lines []int
	for _, p := range cerr.Problems {
		lines = append(lines, p.Source.Line)
	}
	assert.Equal(t, []int{1, 2, 3, 4}, lines, "every problem, in line order: %v", err)
	assert.Contains(t, err.Error(), "f.yaml:1: node-port: 99 is outside the NodePort range")
	assert.Contains(t, err.Error(), "f.yaml:2: profil: unknown key")
}

func TestFlagsFileMustBeASmallRegularFile(t *testing.T) {
	dir := t.TempDir()
	_, err := config.Load(config.Sources{File: "/dev/zero"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "/dev/zero is not a regular file")

	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	_, err = config.Load(config.Sources{File: fifo}) // would block forever if opened and read
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is not a regular file")

	big := filepath.Join(dir, "big.yaml")
	require.NoError(t, os.WriteFile(big, bytes.Repeat([]byte("# padding\n"), config.MaxFlagsFileBytes/5), 0o600))
	_, err = config.Load(config.Sources{File: big})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "more than the")

	url := filepath.Join(dir, "url")
	require.NoError(t, syscall.Mkfifo(url, 0o600))
	_, err = config.ReadDatabaseURL(url)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a regular file")
}

func TestProfileFromEnvironmentSetsDefaults(t *testing.T) {
	res, err := config.Load(config.Sources{Environ: []string{"HAKUBE_PROFILE=production"}})
	require.NoError(t, err)
	assert.Equal(t, config.DatabasePostgreSQL, res.Config.Database)
}

func TestEnvironmentErrors(t *testing.T) {
	_, err := config.Load(config.Sources{Environ: []string{"HAKUBE_NODEPORT=30200", "HAKUBE_HOST_NETWORK=maybe", "HAKUBE_NODE_PORT=80"}})
	require.Error(t, err)
	text := err.Error()
	assert.Contains(t, text, "environment HAKUBE_NODEPORT: unknown variable; did you mean HAKUBE_NODE_PORT?")
	assert.Contains(t, text, "environment HAKUBE_HOST_NETWORK: must be true or false")
	// Reserved names of the install script and the CLI are not keys, and not errors.
	_, err = config.Load(config.Sources{Environ: []string{"HAKUBE_VERSION=v1", "HAKUBE_DATA_DIR=/x", "HAKUBE_SKIP_INSTALL=1"}})
	require.NoError(t, err)
}

func TestFlagErrors(t *testing.T) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--node-port=1", "--profile=tiny"}))
	_, err := config.Load(config.Sources{Flags: fs})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "flag --node-port: 1 is outside the NodePort range")
	assert.Contains(t, err.Error(), "flag --profile: \"tiny\" is not allowed")
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	data := []byte("node-port: 1\ntimezone: Nowhere/Land\nbackup-retention-days: -3\nconfig-size: lots\n")
	_, err := config.Load(config.Sources{File: "f.yaml", FileData: data})
	var cerr *config.Error
	require.True(t, errors.As(err, &cerr))
	assert.Len(t, cerr.Problems, 4)
	assert.Contains(t, err.Error(), "invalid configuration (4 problems)")
}

func TestEveryProfileSavesAndReloads(t *testing.T) {
	for _, p := range config.Profiles() {
		res, err := config.Load(config.Sources{Environ: []string{"HAKUBE_PROFILE=" + string(p)}, Adjust: nil})
		if p == config.ProfileExternalDB {
			require.Error(t, err, "external-db needs database-url-file")
			continue
		}
		require.NoError(t, err, p)
		back, err := config.Unmarshal("saved.yaml", res.Config.Marshal())
		require.NoError(t, err, "the saved configuration of profile %s reloads", p)
		assert.Equal(t, res.Config, back)
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	res, err := config.Load(config.Sources{File: "testdata/valid-production.yaml"})
	require.NoError(t, err)
	data := res.Config.Marshal()
	back, err := config.Unmarshal("saved.yaml", data)
	require.NoError(t, err)
	assert.Equal(t, res.Config, back)
	for _, k := range config.Keys() {
		assert.Contains(t, string(data), "\n"+k+":", "saved file lists %s", k)
	}
}

func TestAdjusterRespectsUserChoices(t *testing.T) {
	adjust := func(c *config.Config, isSet func(string) bool) ([]string, error) {
		if !isSet("resource-size") {
			c.ResourceSize = config.SizeSmall
		}
		if !isSet("timezone") {
			c.Timezone = "Asia/Tokyo"
		}
		return []string{"adjusted"}, nil
	}
	res, err := config.Load(config.Sources{FileData: []byte("timezone: UTC\n"), File: "f.yaml", Adjust: adjust})
	require.NoError(t, err)
	assert.Equal(t, config.SizeSmall, res.Config.ResourceSize)
	assert.Equal(t, "UTC", res.Config.Timezone, "the user's choice wins over the adjuster")
	assert.Equal(t, []string{"adjusted"}, res.Notes)

	_, err = config.Load(config.Sources{Adjust: func(*config.Config, func(string) bool) ([]string, error) {
		return nil, errors.New("two radios found")
	}})
	require.EqualError(t, err, "two radios found")
}

func TestArmLeavesOutESPHome(t *testing.T) {
	res, err := config.Load(config.Sources{Environ: []string{"HAKUBE_ARCH=arm"}})
	require.NoError(t, err)
	assert.False(t, res.Config.Has(config.ESPHome))
	assert.NotEmpty(t, res.Notes)
}

func TestReadDatabaseURL(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	u, err := config.ReadDatabaseURL(write("ok", "postgresql://ha:pw@db:5432/ha\n", 0o600))
	require.NoError(t, err)
	assert.Equal(t, "postgresql://ha:pw@db:5432/ha", u)

	_, err = config.ReadDatabaseURL(write("open", "postgresql://ha:hunter2@db/ha", 0o644))
	require.ErrorContains(t, err, "chmod 600")
	assert.NotContains(t, err.Error(), "hunter2", "the URL is a secret")

	_, err = config.ReadDatabaseURL(write("scheme", "mongodb://ha:hunter2@db/ha", 0o600))
	require.ErrorContains(t, err, "not supported")
	assert.NotContains(t, err.Error(), "hunter2")

	_, err = config.ReadDatabaseURL(filepath.Join(dir, "missing"))
	require.ErrorContains(t, err, "create it with the recorder URL")
}

// TestTLSIngressMeansClusterIP: a TLS Ingress turns the default Service into
// ClusterIP; an explicit service-type is kept.
func TestTLSIngressMeansClusterIP(t *testing.T) {
	res, err := config.Load(config.Sources{File: "p.yaml", FileData: []byte("profile: production\ningress-host: home.example.com\n")})
	require.NoError(t, err)
	assert.Equal(t, config.ClusterIP, res.Config.ServiceType)
	res, err = config.Load(config.Sources{File: "p.yaml", FileData: []byte("profile: production\ningress-host: home.example.com\nservice-type: LoadBalancer\n")})
	require.NoError(t, err)
	assert.Equal(t, config.LoadBalancer, res.Config.ServiceType)
}

// TestMarshalRoundTripClusterIP: a saved ClusterIP configuration (basic)
// lists node-port like every key, and still loads.
func TestMarshalRoundTripClusterIP(t *testing.T) {
	c := config.Defaults(config.ProfileBasic)
	back, err := config.Unmarshal("saved.yaml", c.Marshal())
	require.NoError(t, err)
	assert.Equal(t, c, back)
}

func TestTLSIngressKeepsDashboardsOffPlainHTTP(t *testing.T) {
	res, err := config.Load(config.Sources{File: "f.yaml", FileData: []byte("profile: production\ningress-host: home.example.com\n")})
	require.NoError(t, err)
	assert.Zero(t, res.Config.NodeREDNodePort+res.Config.ESPHomeNodePort+res.Config.Zigbee2MQTTNodePort,
		"no plain-HTTP dashboard next to a TLS Ingress")
	res, err = config.Load(config.Sources{File: "f.yaml", FileData: []byte("profile: production\ningress-host: home.example.com\nnodered-node-port: 31880\n")})
	require.NoError(t, err)
	assert.Equal(t, 31880, res.Config.NodeREDNodePort, "unless asked for")
	res, err = config.Load(config.Sources{})
	require.NoError(t, err)
	assert.Equal(t, 31880, res.Config.NodeREDNodePort, "the edge default keeps them on the LAN")
}

package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/installer"
	"github.com/hakube/hakube/manifests"
)

func TestWritePKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	if err := writePKI(dir); err != nil {
		t.Fatal(err)
	}
	load := func(name string) *x509.Certificate {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(b)
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca := load("ca.crt")
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	serving := load("apiserver.crt")
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "127.0.0.1"}); err != nil {
		t.Errorf("serving certificate not valid for 127.0.0.1: %v", err)
	}
	admin := load("admin.crt")
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("admin certificate not a client certificate of the CA: %v", err)
	}
	if got := admin.Subject.Organization; len(got) != 1 || got[0] != "system:masters" {
		t.Errorf("admin organization = %v, want system:masters", got)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err := writePKI(dir); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if !bytes.Equal(before, after) {
		t.Error("second writePKI replaced the CA")
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	if err := writeKubeconfig(dir, "https://127.0.0.1:1234", kc); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(kc)
	if !strings.Contains(string(b), "server: https://127.0.0.1:1234") {
		t.Errorf("kubeconfig lacks the server:\n%s", b)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(5)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if p <= 0 || seen[p] {
			t.Fatalf("bad or repeated port in %v", ports)
		}
		seen[p] = true
	}
}

// TestImageRefs checks that image-refs names every image the renderer puts
// in a pod (all components, PostgreSQL, the backup job): the real node has an
// image for each, so nothing is ever pulled.
func TestImageRefs(t *testing.T) {
	var out bytes.Buffer
	if err := run([]string{"image-refs"}, &out); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		_, ref, ok := strings.Cut(l, " ")
		if !ok || !strings.Contains(ref, ":") {
			t.Fatalf("line %q is not KEY REPOSITORY:TAG", l)
		}
		have[ref] = true
	}
	cfg := config.Defaults(config.ProfileProduction)
	cfg.Components = append(cfg.Components, config.Zigbee2MQTT)
	cfg.ZigbeeDevice, cfg.ZigbeeAdapter = "/dev/ttyUSB0", "ember"
	cfg.Arch = config.Arch(runtime.GOARCH)
	files, err := manifests.Render(&cfg, installer.PlaceholderSecrets(), manifests.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rendered := 0
	for _, f := range files {
		for _, l := range strings.Split(string(f.Content), "\n") {
			l = strings.TrimSpace(l)
			ref, ok := strings.CutPrefix(l, "image: ")
			if !ok {
				continue
			}
			rendered++
			if !have[strings.Trim(ref, `"`)] {
				t.Errorf("%s renders image %s, which image-refs does not list", f.Name, ref)
			}
		}
	}
	if rendered < 6 {
		t.Errorf("found only %d image lines in the rendered manifests", rendered)
	}
}

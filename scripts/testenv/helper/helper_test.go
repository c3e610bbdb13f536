package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
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

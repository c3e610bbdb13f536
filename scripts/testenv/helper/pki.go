package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// validity of every certificate: long enough for any test run.
const validity = 10 * 365 * 24 * time.Hour

// writePKI writes into dir, unless ca.crt is already there (a restart keeps
// its certificates): ca.{crt,key}, apiserver.{crt,key} for 127.0.0.1,
// localhost and the in-cluster names, admin.{crt,key} in group
// system:masters, and the service-account signing pair sa.{key,pub}.
func writePKI(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "ca.crt")); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	caKey, err := newKey()
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		Subject:               pkix.Name{CommonName: "hakube-testenv-ca"},
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caCert, err := sign(caTmpl, caKey, nil, nil)
	if err != nil {
		return err
	}
	serving := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
			"kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv4(10, 43, 0, 1)},
	}
	admin := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "hakube-testenv-admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	files := map[string][]byte{"ca.crt": certPEM(caCert)}
	if files["ca.key"], err = keyPEM(caKey); err != nil {
		return err
	}
	for name, tmpl := range map[string]*x509.Certificate{"apiserver": serving, "admin": admin} {
		key, err := newKey()
		if err != nil {
			return err
		}
		cert, err := sign(tmpl, key, caCert, caKey)
		if err != nil {
			return fmt.Errorf("sign %s certificate: %w", name, err)
		}
		files[name+".crt"] = certPEM(cert)
		if files[name+".key"], err = keyPEM(key); err != nil {
			return err
		}
	}
	saKey, err := newKey()
	if err != nil {
		return err
	}
	if files["sa.key"], err = keyPEM(saKey); err != nil {
		return err
	}
	pub, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return fmt.Errorf("encode service-account public key: %w", err)
	}
	files["sa.pub"] = pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub})
	// ca.crt last: its presence means the set is complete.
	for _, name := range []string{"ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key", "sa.key", "sa.pub", "ca.crt"} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o600); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

// sign issues tmpl for key, signed by parent/parentKey, or self-signed when
// parent is nil.
func sign(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, fmt.Errorf("pick serial number: %w", err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = tmpl.NotBefore.Add(validity)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate %s: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

// writeKubeconfig writes an admin kubeconfig for server with the
// certificates of pkiDir embedded, so it stays valid wherever it is copied.
func writeKubeconfig(pkiDir, server, file string) error {
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(pkiDir, name))
		if err != nil {
			return "", fmt.Errorf("read %s: %w", name, err)
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	var errs []error
	ca, err := read("ca.crt")
	errs = append(errs, err)
	crt, err := read("admin.crt")
	errs = append(errs, err)
	key, err := read("admin.key")
	errs = append(errs, err)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	content := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: hakube-testenv
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: hakube-testenv
  context:
    cluster: hakube-testenv
    user: admin
current-context: hakube-testenv
`, server, ca, crt, key)
	tmp := filepath.Join(filepath.Dir(file), "."+filepath.Base(file)+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}

package daemon

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCert(t *testing.T, cn string, parent *testCert, isCA bool, ext x509.ExtKeyUsage) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  isCA,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	if !isCA {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{ext}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCert{cert: c, key: key, der: der}
}

func (c *testCert) write(t *testing.T, dir, name string) (certFile, keyFile string) {
	t.Helper()
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kb, _ := x509.MarshalECPrivateKey(c.key)
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCert(t, "test CA", nil, true, 0)
	caFile, _ := ca.write(t, dir, "ca")
	srvCert, srvKey := newCert(t, "127.0.0.1", ca, false, x509.ExtKeyUsageServerAuth).write(t, dir, "server")
	client := newCert(t, "operator", ca, false, x509.ExtKeyUsageClientAuth)

	cfg, err := LoadTLS(TLSFiles{CertFile: srvCert, KeyFile: srvKey, ClientCAFile: caFile})
	if err != nil {
		t.Fatal(err)
	}
	r := start(t, Options{TLS: cfg})
	url := "https://" + r.url[len("http://"):] + "/ready"

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if resp, err := noCert.Get(url); err == nil {
		resp.Body.Close()
		t.Fatal("a client without a certificate was served under mTLS")
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{client.der}, PrivateKey: client.key}},
	}}}
	resp, err := withCert.Get(url)
	if err != nil {
		t.Fatalf("client with a valid certificate: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestLoadTLSErrors(t *testing.T) {
	t.Parallel()
	if cfg, err := LoadTLS(TLSFiles{}); cfg != nil || err != nil {
		t.Errorf("no cert: %v %v, want nil nil", cfg, err)
	}
	if _, err := LoadTLS(TLSFiles{CertFile: "/nope.crt", KeyFile: "/nope.key"}); err == nil {
		t.Error("missing files: want an error")
	}
}

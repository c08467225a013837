package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TLSFiles are the PEM files [TLSCerts] writes: a CA, a server certificate
// and a client certificate it signed, and their keys.
type TLSFiles struct {
	CAFile                        string // the CA certificate
	CertFile, KeyFile             string // the server's
	ClientCertFile, ClientKeyFile string // the client's
}

// TLSCerts writes a fresh CA, a server certificate for 127.0.0.1, ::1,
// localhost and names, and a client certificate, all signed by the CA
// (ECDSA P-256, valid for a day), into a directory of t's. The keys are
// TEST ONLY and never leave the test.
func TLSCerts(t testing.TB, names ...string) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	var serial int64
	issue := func(tmpl *x509.Certificate, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, []byte, []byte) {
		t.Helper()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	}
	write := func(name string, b []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	ca, caKey, caPEM, _ := issue(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "tarsctl test CA"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, nil, nil)
	_, _, srvPEM, srvKey := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "tarsctl test server"},
		DNSNames:    append([]string{"localhost"}, names...),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, caKey)
	_, _, cliPEM, cliKey := issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "tarsctl test client"},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, ca, caKey)
	return TLSFiles{
		CAFile:         write("ca.pem", caPEM),
		CertFile:       write("server.pem", srvPEM),
		KeyFile:        write("server-key.pem", srvKey),
		ClientCertFile: write("client.pem", cliPEM),
		ClientKeyFile:  write("client-key.pem", cliKey),
	}
}

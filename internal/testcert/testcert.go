// Package testcert makes real certificates for tests of HTTPS: a private CA and a server
// certificate it signs for 127.0.0.1 and localhost, written as PEM files the way an operator
// would hand them to `strata serve --tls-cert --tls-key` and `strata --ca-cert`. The http
// tests and the end-to-end tests share it, so both test against the same kind of chain.
package testcert

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

// Files are the PEM files of one test chain.
type Files struct {
	// CA is the CA's certificate: what a client is given to trust.
	CA string
	// Cert and Key are the server's certificate (signed by CA, for 127.0.0.1, ::1 and
	// localhost) and its private key (PKCS#8, mode 0600).
	Cert, Key string
	// OtherKey is a private key that does not belong to Cert.
	OtherKey string
	// Pool holds CA, for Go clients in tests.
	Pool *x509.CertPool
}

// New makes a CA and a server certificate valid from an hour ago for a day, and writes them
// into a new directory of tb's.
func New(tb testing.TB) Files {
	tb.Helper()
	dir := tb.TempDir()
	caKey := newKey(tb)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "strata test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		tb.Fatal(err)
	}
	srvKey := newKey(tb)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")},
		DNSNames:     []string{"localhost"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	f := Files{
		CA:       filepath.Join(dir, "ca.pem"),
		Cert:     filepath.Join(dir, "server.pem"),
		Key:      filepath.Join(dir, "server.key"),
		OtherKey: filepath.Join(dir, "other.key"),
		Pool:     x509.NewCertPool(),
	}
	f.Pool.AddCert(ca)
	write(tb, f.CA, "CERTIFICATE", caDER, 0o644)
	write(tb, f.Cert, "CERTIFICATE", srvDER, 0o644)
	write(tb, f.Key, "PRIVATE KEY", pkcs8(tb, srvKey), 0o600)
	write(tb, f.OtherKey, "PRIVATE KEY", pkcs8(tb, newKey(tb)), 0o600)
	return f
}

func newKey(tb testing.TB) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func pkcs8(tb testing.TB, k *ecdsa.PrivateKey) []byte {
	b, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func write(tb testing.TB, path, typ string, der []byte, mode os.FileMode) {
	tb.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode); err != nil {
		tb.Fatal(err)
	}
}

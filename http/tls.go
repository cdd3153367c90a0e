package http

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/netip"
	"os"
	"strings"

	"github.com/strata-dev/strata"
)

// HTTPS: the server's certificate (serve --tls-cert/--tls-key), how a request is known to
// have come over HTTPS (its own connection, or a trusted proxy's X-Forwarded-Proto), and
// what that changes: the session cookies are Secure and responses carry
// Strict-Transport-Security. The client's side (trusting a private CA) is TrustCA.

// hstsValue tells a browser to use only HTTPS for this host for a year. It is sent only on
// responses that came over HTTPS (browsers ignore it otherwise), and without
// includeSubDomains: the server cannot speak for the other hosts of its domain.
const hstsValue = "max-age=31536000"

// maxPEM bounds a certificate, key or CA file read: real ones are a few kilobytes.
const maxPEM = 1 << 20

// LoadTLS returns the server's TLS configuration from a PEM certificate file (the server's
// certificate, then any intermediates) and a PEM private key file. Each problem is EINVALID
// naming the flag it came from (--tls-cert, --tls-key) and what would be right; neither the
// key nor the file's content is ever part of a message. Both files or neither are needed.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	switch {
	case certFile == "" && keyFile == "":
		return nil, nil
	case certFile == "":
		return nil, strata.Errorf(strata.EINVALID, "--tls-key needs --tls-cert: give the certificate (PEM) that goes with the key")
	case keyFile == "":
		return nil, strata.Errorf(strata.EINVALID, "--tls-cert needs --tls-key: give the private key (PEM) of the certificate")
	}
	certPEM, err := readPEM("--tls-cert", certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readPEM("--tls-key", keyFile)
	if err != nil {
		return nil, err
	}
	if !hasBlock(certPEM, func(t string) bool { return t == "CERTIFICATE" }) {
		return nil, strata.Errorf(strata.EINVALID, "--tls-cert %s: holds no PEM certificate (-----BEGIN CERTIFICATE-----); want the server's certificate in PEM", certFile)
	}
	if !hasBlock(keyPEM, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }) {
		return nil, strata.Errorf(strata.EINVALID, "--tls-key %s: holds no PEM private key (-----BEGIN PRIVATE KEY-----); want the certificate's private key in PEM", keyFile)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "does not match"):
			return nil, strata.Errorf(strata.EINVALID, "--tls-key %s is not the private key of the certificate in --tls-cert %s; give the key the certificate was made for", keyFile, certFile)
		case strings.Contains(msg, "private key"):
			return nil, strata.Errorf(strata.EINVALID, "--tls-key %s: the private key cannot be read (%s); want an unencrypted PKCS#1, PKCS#8 or EC key in PEM", keyFile, msg)
		}
		return nil, strata.Errorf(strata.EINVALID, "--tls-cert %s: the certificate cannot be read (%s); want the server's certificate in PEM", certFile, msg)
	}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, nil
}

// readPEM reads a small PEM file named by flag; a file that cannot be read, or is too large
// to be one, is EINVALID naming the flag.
func readPEM(flag, path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "%s %s: %s; want a readable PEM file", flag, path, fileProblem(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxPEM+1))
	if err != nil {
		return nil, strata.Errorf(strata.EINVALID, "%s %s: %s; want a readable PEM file", flag, path, fileProblem(err))
	}
	if len(b) > maxPEM {
		return nil, strata.Errorf(strata.EINVALID, "%s %s: larger than 1 MiB, which no certificate or key is; want a PEM file", flag, path)
	}
	return b, nil
}

// fileProblem says why a file could not be read, without Go's "open PATH:" prefix.
func fileProblem(err error) string {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "no such file"
	case errors.Is(err, fs.ErrPermission):
		return "permission denied"
	case errors.As(err, &pe):
		return pe.Err.Error()
	}
	return err.Error()
}

// hasBlock reports whether data holds a PEM block whose type ok accepts.
func hasBlock(data []byte, ok func(string) bool) bool {
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return false
		}
		if ok(b.Type) {
			return true
		}
	}
}

// TrustCA makes the client trust servers whose certificate is signed by a CA in caFile
// (PEM), besides the system's roots: a server with a certificate from a private CA. A file
// that cannot be read or holds no certificate is EINVALID naming the flag
// (--ca-cert, or $STRATA_CA_CERT).
func (c *Client) TrustCA(caFile string) error {
	const flag = "--ca-cert"
	data, err := readPEM(flag, caFile)
	if err != nil {
		return err
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(data) {
		return strata.Errorf(strata.EINVALID, "%s %s: holds no PEM certificate (-----BEGIN CERTIFICATE-----); want the certificate of the CA that signed the server's", flag, caFile)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	c.HTTP = &http.Client{Transport: tr}
	return nil
}

// untrusted says why a server's certificate was refused, and what would make it trusted;
// "" when err is not about the certificate.
func untrusted(err error) string {
	var unknown x509.UnknownAuthorityError
	var host x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(err, &unknown):
		return "its certificate is signed by an authority this machine does not trust; pass the CA's certificate with --ca-cert FILE (or $STRATA_CA_CERT)"
	case errors.As(err, &host):
		return fmt.Sprintf("its certificate is not for this host (%v); use the name the certificate is for in --server", host.Error())
	case errors.As(err, &invalid):
		return fmt.Sprintf("its certificate is not valid (%v)", invalid.Error())
	}
	return ""
}

// httpsKey holds, in a request's context, whether the request came over HTTPS.
type httpsKey struct{}

// withHTTPS returns r carrying whether it came over HTTPS: its own connection is TLS, or it
// comes from a trusted proxy whose X-Forwarded-Proto (its first value, the scheme the client
// used with the first proxy) is https. From anyone else the header is ignored.
func withHTTPS(r *http.Request, trusted []netip.Prefix) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), httpsKey{}, cameOverHTTPS(r, trusted)))
}

func cameOverHTTPS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	if len(trusted) == 0 {
		return false
	}
	proxy, err := netip.ParseAddr(connHost(r))
	if err != nil || !isTrusted(proxy, trusted) {
		return false
	}
	proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
	return strings.EqualFold(strings.TrimSpace(proto), "https")
}

// isHTTPS reports whether r came over HTTPS (withHTTPS; r's own connection when r did not
// pass through it): cookies are then Secure.
func isHTTPS(r *http.Request) bool {
	if v, ok := r.Context().Value(httpsKey{}).(bool); ok {
		return v
	}
	return r.TLS != nil
}

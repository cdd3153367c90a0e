package http_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/testcert"
	"github.com/strata-dev/strata/report"
)

// serveTLS starts a server for the estate that speaks HTTPS with the test chain's
// certificate, and returns its https:// URL.
func (x *apiEstate) serveTLS(certs testcert.Files, edit func(*strhttp.Config)) string {
	x.t.Helper()
	cfg, err := strhttp.LoadTLS(certs.Cert, certs.Key)
	if err != nil {
		x.t.Fatal(err)
	}
	_, u := x.serveWith(x.engine, 0, func(c *strhttp.Config) {
		c.TLS = cfg
		if edit != nil {
			edit(c)
		}
	})
	return "https://" + strings.TrimPrefix(u, "http://")
}

// cookieNamed returns the cookie called name that res sets, or nil.
func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// TestHTTPSMakesCookiesSecureAndSendsHSTS: a server with a certificate speaks HTTPS; over
// HTTPS, and behind a trusted proxy that says X-Forwarded-Proto: https, the login and
// session cookies are Secure and every response has Strict-Transport-Security; over plain
// HTTP, or with the header from anyone but a trusted proxy, neither.
func TestHTTPSMakesCookiesSecureAndSendsHSTS(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	certs := testcert.New(t)
	tlsURL := x.serveTLS(certs, nil)
	_, proxied := x.serveWith(x.engine, 0, func(c *strhttp.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	trusting := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}

	cases := []struct {
		name       string
		base       string
		forwarded  string // X-Forwarded-Proto sent, "" for none
		wantSecure bool
	}{
		{"over HTTPS", tlsURL, "", true},
		{"over HTTPS, whatever a client says it used", tlsURL, "http", true},
		{"through a trusted proxy that says https", proxied, "https", true},
		{"through a trusted proxy that says https first in a list", proxied, "https, http", true},
		{"through a trusted proxy that says http", proxied, "http", false},
		{"through a trusted proxy that says nothing", proxied, "", false},
		{"over plain HTTP", x.url, "", false},
		{"over plain HTTP from a client that claims https", x.url, "https", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			send := func(method, path string, form url.Values, cookies ...*http.Cookie) *http.Response {
				t.Helper()
				var req *http.Request
				if form != nil {
					req, _ = http.NewRequest(method, tc.base+path, strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				} else {
					req, _ = http.NewRequest(method, tc.base+path, nil)
				}
				if tc.forwarded != "" {
					req.Header.Set("X-Forwarded-Proto", tc.forwarded)
				}
				for _, c := range cookies {
					req.AddCookie(c)
				}
				res, err := trusting.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				readAll(t, res)
				return res
			}
			hsts := func(res *http.Response) {
				t.Helper()
				got := res.Header.Get("Strict-Transport-Security")
				if tc.wantSecure && !strings.HasPrefix(got, "max-age=") {
					t.Errorf("%s: Strict-Transport-Security %q, want max-age=...", res.Request.URL.Path, got)
				}
				if !tc.wantSecure && got != "" {
					t.Errorf("%s: Strict-Transport-Security %q, want none", res.Request.URL.Path, got)
				}
			}
			api := send("GET", "/api/v1/status", nil)
			hsts(api)
			page := send("GET", "/login", nil)
			hsts(page)
			login := cookieNamed(page, "strata_login")
			if login == nil || login.Secure != tc.wantSecure || !login.HttpOnly {
				t.Fatalf("login cookie %+v, want HttpOnly and Secure %v", login, tc.wantSecure)
			}
			res := send("POST", "/login", url.Values{"csrf": {login.Value}, "token": {x.tokens["victor"]}}, login)
			session := cookieNamed(res, "strata_session")
			if res.StatusCode != http.StatusSeeOther || session == nil {
				t.Fatalf("login: status %d, session cookie %+v", res.StatusCode, session)
			}
			if session.Secure != tc.wantSecure || !session.HttpOnly || session.SameSite != http.SameSiteStrictMode {
				t.Errorf("session cookie %+v, want HttpOnly, SameSite=Strict and Secure %v", session, tc.wantSecure)
			}
			hsts(res)
		})
	}
	t.Run("a browser over HTTPS logs in and reads the dashboard", func(t *testing.T) {
		jar, _ := cookiejar.New(nil)
		b := &browser{t: t, url: tlsURL, c: &http.Client{Jar: jar, Transport: trusting.Transport, CheckRedirect: trusting.CheckRedirect}}
		if res, _ := b.loginWith(x.tokens["victor"]); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", res.StatusCode)
		}
		if res, page := b.get("/"); res.StatusCode != 200 || !strings.Contains(page, `id="principal">victor<`) {
			t.Fatalf("dashboard: %d\n%s", res.StatusCode, page)
		}
	})
}

// TestLoadTLSNamesTheFlagThatIsWrong: a missing, unreadable or wrong certificate or key is
// EINVALID naming --tls-cert or --tls-key and saying what would be right; the key's content
// is never in the message.
func TestLoadTLSNamesTheFlagThatIsWrong(t *testing.T) {
	certs := testcert.New(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badKey := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(badKey, []byte("-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(certs.Key)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, cert, key string
		want            []string
	}{
		{"a key without a certificate", "", certs.Key, []string{"--tls-key needs --tls-cert"}},
		{"a certificate without a key", certs.Cert, "", []string{"--tls-cert needs --tls-key"}},
		{"a certificate file that does not exist", filepath.Join(dir, "nope.pem"), certs.Key, []string{"--tls-cert", "nope.pem", "no such file"}},
		{"a key file that does not exist", certs.Cert, filepath.Join(dir, "nope.key"), []string{"--tls-key", "nope.key", "no such file"}},
		{"a directory for the certificate", dir, certs.Key, []string{"--tls-cert", "is a directory"}},
		{"a certificate file that is not PEM", garbage, certs.Key, []string{"--tls-cert", "holds no PEM certificate"}},
		{"a certificate file larger than any certificate", big, certs.Key, []string{"--tls-cert", "larger than 1 MiB"}},
		{"a key file that holds a certificate", certs.Cert, certs.Cert, []string{"--tls-key", "holds no PEM private key"}},
		{"a key file whose key cannot be parsed", certs.Cert, badKey, []string{"--tls-key", "cannot be read"}},
		{"a key that is not the certificate's", certs.Cert, certs.OtherKey, []string{"--tls-key", "is not the private key of the certificate"}},
		{"the key given as the certificate and the certificate as the key", certs.Key, certs.Cert, []string{"--tls-cert", "holds no PEM certificate"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := strhttp.LoadTLS(tc.cert, tc.key)
			if cfg != nil || strata.ErrorCode(err) != strata.EINVALID {
				t.Fatalf("LoadTLS = %v, %v; want no config and an invalid error", cfg, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "not a certificate") || strings.Contains(err.Error(), string(keyPEM[30:60])) || strings.Contains(err.Error(), "c2VjcmV0") {
				t.Errorf("error %q holds file content", err)
			}
		})
	}
	t.Run("neither file means plain HTTP", func(t *testing.T) {
		if cfg, err := strhttp.LoadTLS("", ""); cfg != nil || err != nil {
			t.Fatalf("LoadTLS(\"\", \"\") = %v, %v; want nil, nil", cfg, err)
		}
	})
}

// TestTheClientTrustsAPrivateCAOnlyWhenToldTo: the CLI's client refuses a server whose
// certificate is signed by a CA it does not know, saying how to trust it; with TrustCA it
// talks to it; a CA file that is not one is EINVALID naming --ca-cert; a scheme that does
// not match the server is one clear line.
func TestTheClientTrustsAPrivateCAOnlyWhenToldTo(t *testing.T) {
	x := newAPIEstate(t, apiYAML)
	certs := testcert.New(t)
	tlsURL := x.serveTLS(certs, nil)
	ctx := context.Background()

	t.Run("without the CA the server is not trusted, and the message says what to pass", func(t *testing.T) {
		c, err := strhttp.NewClient(tlsURL, x.tokens["victor"])
		if err != nil {
			t.Fatal(err)
		}
		_, err = strhttp.Run(ctx, c, command.Status, report.StatusRequest{})
		if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "not trusted") || !strings.Contains(err.Error(), "--ca-cert") {
			t.Fatalf("error %v, want an invalid error saying the server is not trusted and naming --ca-cert", err)
		}
	})
	t.Run("with the CA it reads the server", func(t *testing.T) {
		c, err := strhttp.NewClient(tlsURL, x.tokens["victor"])
		if err != nil {
			t.Fatal(err)
		}
		if err := c.TrustCA(certs.CA); err != nil {
			t.Fatal(err)
		}
		if _, err := strhttp.Run(ctx, c, command.Status, report.StatusRequest{}); err != nil {
			t.Fatalf("status over HTTPS: %v", err)
		}
	})
	bad := []struct {
		name, file string
		want       string
	}{
		{"a CA file that does not exist", filepath.Join(t.TempDir(), "nope.pem"), "no such file"},
		{"a CA file that holds a key, not a certificate", certs.Key, "holds no PEM certificate"},
	}
	for _, tc := range bad {
		t.Run(tc.name+" is invalid naming --ca-cert", func(t *testing.T) {
			c, _ := strhttp.NewClient(tlsURL, "")
			err := c.TrustCA(tc.file)
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "--ca-cert") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want invalid naming --ca-cert and saying %q", err, tc.want)
			}
		})
	}
	schemes := []struct {
		name, url, want string
	}{
		{"https:// to a plain HTTP server says it speaks plain HTTP", "https://" + strings.TrimPrefix(x.url, "http://"), "speaks plain HTTP"},
		{"http:// to an HTTPS server says it speaks HTTPS", "http://" + strings.TrimPrefix(tlsURL, "https://"), "speaks HTTPS"},
	}
	for _, tc := range schemes {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := strhttp.NewClient(tc.url, x.tokens["victor"])
			if err := c.TrustCA(certs.CA); err != nil {
				t.Fatal(err)
			}
			_, err := strhttp.Run(ctx, c, command.Status, report.StatusRequest{})
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want invalid saying %q", err, tc.want)
			}
		})
	}
}

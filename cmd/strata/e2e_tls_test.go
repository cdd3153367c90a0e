package main_test

// End-to-end tests of HTTPS: `strata serve --tls-cert --tls-key` with a certificate the
// test makes (a private CA and a server certificate it signs), and the real CLI against it
// with and without --ca-cert / $STRATA_CA_CERT.

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/testcert"
)

// serveTLS starts `strata serve` with the chain's certificate and key and returns its
// https:// URL.
func serveTLS(t *testing.T, e *estate, certs testcert.Files) string {
	t.Helper()
	b := e.start("serve", "--listen", "127.0.0.1:0", "--tick", "1h", "--tls-cert", certs.Cert, "--tls-key", certs.Key)
	var url string
	waitFor(t, 15*time.Second, "strata serve to listen on https", func() bool {
		if b.ended() {
			t.Fatalf("strata serve ended:\n%s", b.wait(t, time.Second))
		}
		log, _ := os.ReadFile(b.stderr)
		if m := regexp.MustCompile(`https://127\.0\.0\.1:\d+`).Find(log); m != nil {
			url = string(m)
		}
		return url != ""
	})
	t.Cleanup(func() { b.cmd.Process.Signal(os.Interrupt) })
	return url
}

// plusEnv returns the estate with extra environment variables.
func (e *estate) plusEnv(vars ...string) *estate {
	c := *e
	c.env = append(slices.Clone(e.env), vars...)
	return &c
}

func TestServeSpeaksHTTPSAndTheCLITrustsItsCA(t *testing.T) {
	t.Parallel()
	e := newEstate(t, strings.Replace(servedEstate, `deploy: "true"`, `deploy: "echo deployed $STRATA_VERSION to $STRATA_ENV"`, 1))
	certs := testcert.New(t)
	viewer := createToken(t, e, "viewer", "--role", "viewer").Token
	devViewer := createToken(t, e, "dev-viewer", "--role", "viewer", "--envs", "tier=dev").Token
	e.release("api", "--version", "1.0.0") // lands in dev by itself
	url := serveTLS(t, e, certs)
	remote := e.as(url, viewer)

	t.Run("without the CA the CLI refuses the server with exit 2 and says to pass --ca-cert", func(t *testing.T) {
		r := remote.with(t).must(2, "status")
		if !strings.Contains(r.stderr, "not trusted") || !strings.Contains(r.stderr, "--ca-cert") {
			t.Errorf("stderr does not say why or what to pass:\n%s", r)
		}
	})
	t.Run("with --ca-cert the CLI runs commands on it", func(t *testing.T) {
		r := remote.with(t).must(0, "--ca-cert", certs.CA, "-o", "json", "env", "list")
		var envs []struct{ Name string }
		jsonDoc(t, r, &envs)
		if len(envs) != 3 {
			t.Errorf("env list over HTTPS: %+v, want 3 environments", envs)
		}
	})
	t.Run("logs --follow streams over HTTPS", func(t *testing.T) {
		ds := e.with(t).history("api", "--env", "dev")
		if len(ds) == 0 {
			t.Fatal("no deployment of api in dev")
		}
		r := remote.with(t).must(0, "--ca-cert", certs.CA, "logs", ds[0].ID, "--follow")
		local := e.with(t).must(0, "logs", ds[0].ID)
		if !strings.Contains(r.stdout, "deployed 1.0.0 to dev") || r.stdout != local.stdout {
			t.Errorf("logs over HTTPS:\n%s\nlocally:\n%s", r.stdout, local.stdout)
		}
	})
	t.Run("with STRATA_CA_CERT the CLI runs commands on it", func(t *testing.T) {
		remote.plusEnv("STRATA_CA_CERT="+certs.CA).with(t).must(0, "status")
	})
	t.Run("a CA file that is not a certificate is exit 2 naming --ca-cert", func(t *testing.T) {
		r := remote.with(t).must(2, "--ca-cert", certs.Key, "status")
		if !strings.Contains(r.stderr, "--ca-cert") || !strings.Contains(r.stderr, "holds no PEM certificate") {
			t.Errorf("stderr does not name the flag and the problem:\n%s", r)
		}
		if strings.Contains(r.stderr, "PRIVATE KEY-----\n") {
			t.Errorf("stderr holds the file's content:\n%s", r)
		}
	})
	t.Run("a CA file that does not exist is exit 2 naming --ca-cert", func(t *testing.T) {
		r := remote.plusEnv("STRATA_CA_CERT="+filepath.Join(t.TempDir(), "nope.pem")).with(t).must(2, "status")
		if !strings.Contains(r.stderr, "--ca-cert") || !strings.Contains(r.stderr, "no such file") {
			t.Errorf("stderr does not name the flag and the problem:\n%s", r)
		}
	})
	t.Run("http:// to the HTTPS server is exit 2 saying it speaks HTTPS", func(t *testing.T) {
		r := e.as("http://"+strings.TrimPrefix(url, "https://"), viewer).with(t).must(2, "status")
		if !strings.Contains(r.stderr, "speaks HTTPS") {
			t.Errorf("stderr does not say to use https:\n%s", r)
		}
	})
	t.Run("a token scoped to tier=dev validates only its scope over HTTPS", func(t *testing.T) {
		r := e.as(url, devViewer).with(t).must(0, "--ca-cert", certs.CA, "-o", "json", "validate")
		var doc struct {
			Environments []string
			Stages       []struct{ Name string }
			Scope        []string
		}
		jsonDoc(t, r, &doc)
		if !reflect.DeepEqual(doc.Environments, []string{"dev"}) || len(doc.Stages) != 1 || doc.Stages[0].Name != "dev" || !reflect.DeepEqual(doc.Scope, []string{"tier=dev"}) {
			t.Errorf("validate as a dev-scoped token: %+v, want dev, its stage and the scope", doc)
		}
		text := e.as(url, devViewer).with(t).must(0, "--ca-cert", certs.CA, "validate")
		if !strings.Contains(text.stdout, "scope: tier=dev") || strings.Contains(text.stdout, "prod") {
			t.Errorf("validate's text does not show the scope alone:\n%s", text.stdout)
		}
	})
	t.Run("the dashboard's login cookie is Secure and responses carry HSTS", func(t *testing.T) {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.Pool}}}
		res, err := c.Get(url + "/login")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		var login *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == "strata_login" {
				login = k
			}
		}
		if login == nil || !login.Secure {
			t.Errorf("login cookie %+v, want Secure", login)
		}
		if got := res.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
			t.Errorf("Strict-Transport-Security %q, want max-age=...", got)
		}
	})
}

func TestServeRefusesBadCertificateFiles(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	certs := testcert.New(t)
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("hello\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		flags []string
		want  string
	}{
		{"a certificate without a key", []string{"--tls-cert", certs.Cert}, "--tls-cert needs --tls-key"},
		{"a key without a certificate", []string{"--tls-key", certs.Key}, "--tls-key needs --tls-cert"},
		{"a certificate file that does not exist", []string{"--tls-cert", filepath.Join(t.TempDir(), "nope.pem"), "--tls-key", certs.Key}, "--tls-cert"},
		{"a certificate file that is not PEM", []string{"--tls-cert", garbage, "--tls-key", certs.Key}, "--tls-cert " + garbage + ": holds no PEM certificate"},
		{"a key file that holds a certificate", []string{"--tls-cert", certs.Cert, "--tls-key", certs.Cert}, "--tls-key " + certs.Cert + ": holds no PEM private key"},
		{"a key that is not the certificate's", []string{"--tls-cert", certs.Cert, "--tls-key", certs.OtherKey}, "--tls-key " + certs.OtherKey + " is not the private key of the certificate"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" is exit 2 naming the flag, and nothing serves", func(t *testing.T) {
			r := e.with(t).must(2, append([]string{"serve", "--listen", "127.0.0.1:0"}, tc.flags...)...)
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, r)
			}
			if strings.Contains(r.stderr, "serving") {
				t.Errorf("the server started:\n%s", r)
			}
		})
	}
	t.Run("with -o json the error is the invalid code on stdout", func(t *testing.T) {
		r := e.with(t).must(2, "-o", "json", "serve", "--listen", "127.0.0.1:0", "--tls-cert", certs.Cert, "--tls-key", certs.OtherKey)
		var doc struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Error.Code != "invalid" || !strings.Contains(doc.Error.Message, "--tls-key") {
			t.Errorf("stdout is not an invalid error naming the flag (%v):\n%s", err, r)
		}
	})
}

func TestServeWarnsWhenPlainHTTPReachesOtherMachines(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	certs := testcert.New(t)
	cases := []struct {
		name     string
		flags    []string
		wantWarn bool
	}{
		{"plain HTTP on every interface is warned about", []string{"--listen", "0.0.0.0:0"}, true},
		{"plain HTTP on loopback is not", []string{"--listen", "127.0.0.1:0"}, false},
		{"HTTPS on every interface is not", []string{"--listen", "0.0.0.0:0", "--tls-cert", certs.Cert, "--tls-key", certs.Key}, false},
		{"plain HTTP behind a trusted proxy is not", []string{"--listen", "0.0.0.0:0", "--trusted-proxy", "10.0.0.1"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.with(t).start(append([]string{"serve", "--tick", "1h"}, tc.flags...)...)
			var log string
			waitFor(t, 15*time.Second, "strata serve to start", func() bool {
				if b.ended() {
					t.Fatalf("strata serve ended:\n%s", b.wait(t, time.Second))
				}
				out, _ := os.ReadFile(b.stderr)
				log = string(out)
				return strings.Contains(log, "strata: serving")
			})
			b.cmd.Process.Signal(os.Interrupt)
			r := b.wait(t, 15*time.Second)
			if got := strings.Contains(r.stderr, "warning:") && strings.Contains(r.stderr, "unencrypted"); got != tc.wantWarn {
				t.Errorf("warned %v, want %v:\n%s", got, tc.wantWarn, r.stderr)
			}
		})
	}
}

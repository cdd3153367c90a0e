package main_test

// End-to-end tests of `strata serve --trusted-proxy`: bad values are refused before the
// server starts, and a good one makes the server believe the proxy's X-Forwarded-For.

import (
	"encoding/json"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestServeRefusesATrustedProxyThatIsNotACIDROrAnIP(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	cases := []struct{ name, value string }{
		{"a host name is refused", "proxy.example.com"},
		{"a prefix longer than the address is refused", "10.0.0.0/33"},
		{"an address with a port is refused", "10.0.0.1:8080"},
		{"an empty value is refused", ""},
		{"a list in one value is refused", "10.0.0.1,10.0.0.2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.with(t).must(2, "serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "10.0.0.0/8", "--trusted-proxy", c.value)
			want := `strata: --trusted-proxy "` + c.value + `": want a CIDR such as 10.0.0.0/8 or fd00::/8, or one IP address such as 192.0.2.10`
			if got := errorLine(r.stderr); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			if strings.Contains(r.stderr, "serving") {
				t.Errorf("the server started:\n%s", r)
			}
		})
	}
	t.Run("with -o json the error is the invalid code on stdout", func(t *testing.T) {
		r := e.with(t).must(2, "-o", "json", "serve", "--listen", "127.0.0.1:0", "--trusted-proxy", "nope")
		var doc struct {
			Error struct{ Code, Message string }
		}
		if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Error.Code != "invalid" || !strings.Contains(doc.Error.Message, `--trusted-proxy "nope"`) {
			t.Errorf("stdout is not an invalid error naming the flag (%v):\n%s", err, r)
		}
	})
}

func TestServeBelievesTheForwardedForOfATrustedProxy(t *testing.T) {
	t.Parallel()
	e := newEstate(t, servedEstate)
	url, b := serveWith(t, e, "--trusted-proxy", "127.0.0.1", "--trusted-proxy", "fd00::/8")

	cases := []struct{ name, path, forwarded, want string }{
		{"a request through the trusted proxy is the forwarded client's", "/api/v1/status", "198.51.100.4, 127.0.0.1", "198.51.100.4"},
		{"a request from the proxy without the header is the proxy's", "/api/v1/environments", "", "127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", url+c.path, nil)
			req.Header.Set("Authorization", "Bearer strata_not_a_token")
			if c.forwarded != "" {
				req.Header.Set("X-Forwarded-For", c.forwarded)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", res.StatusCode)
			}
			line := regexp.MustCompile(`(?m)^.*msg=request .*path=` + regexp.QuoteMeta(c.path) + ` .*$`)
			var got string
			waitFor(t, 30*time.Second, "the request line", func() bool {
				log, _ := os.ReadFile(b.stderr)
				got = string(line.Find(log))
				return got != ""
			})
			if !strings.HasSuffix(got, " remote="+c.want) {
				t.Errorf("request line %q, want remote=%s", got, c.want)
			}
		})
	}
}

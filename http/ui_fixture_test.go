package http_test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/internal/syncbuf"
)

// uiYAML is a small estate: two auto stages, then prod behind one approval. The deploy
// step prints the secret it is given, so that the tests can prove it never shows.
const uiYAML = `project: shop
environments:
  dev:
    labels: {tier: dev, region: us}
  staging:
    labels: {tier: staging, region: us}
  prod-us:
    labels: {tier: prod, region: us}
    policy: {approvals: 1}
  prod-eu:
    extends: prod-us
    labels: {region: eu}
    config: {LOG_LEVEL: warn}
services:
  api:
    deploy: "echo deploying $STRATA_SERVICE to $STRATA_ENV; echo password=$DB_PASSWORD; sleep ${config.SLEEP}"
    config:
      LOG_LEVEL: {type: string, default: info}
      SLEEP: {type: string, default: "0"}
      DB_PASSWORD: {type: string, secret: true}
    runbooks:
      reindex: "echo reindexing $STRATA_SERVICE in $STRATA_ENV"
      rotate: {run: "echo rotating", policy: {approvals: 1}}
  web:
    deploy: "echo web up"
pipeline:
  - stage: dev
    environments: [dev]
    auto: true
  - stage: staging
    environments: [staging]
    auto: true
  - stage: prod
    environments: {tier: prod}
`

// uiEstate is a real server on 127.0.0.1 over a real SQLite store, with the tokens the
// tests log in with.
type uiEstate struct {
	dir    string // the project directory, where steps run
	srv    *httptest.Server
	engine *engine.Engine
	store  strata.Store
	// secret is the random value of DB_PASSWORD; no page may show it.
	secret string
	tokens map[string]string // principal -> token
	logs   *syncbuf.Buffer
}

// newUIEstate writes the estate, opens its store, makes one token of each role (plus a
// viewer scoped to dev) and starts a server.
func newUIEstate(t *testing.T, yaml string) *uiEstate {
	t.Helper()
	return newUIEstateIn(t, writeProject(t, yaml))
}

// newUIEstateIn is newUIEstate for the project already written in dir.
func newUIEstateIn(t *testing.T, dir string) *uiEstate {
	t.Helper()
	p := loadProject(t, dir)
	st := openStore(t, dir)
	x := &uiEstate{dir: dir, store: st, secret: "pw-" + randomHex(12), logs: &syncbuf.Buffer{}}
	e := engine.New(p, st, "setup")
	e.Secrets = func(env string) (map[string]string, error) { return map[string]string{"DB_PASSWORD": x.secret}, nil }
	x.engine = e
	x.tokens = makeTokens(t, st, []testToken{
		{"alice", strata.RoleDeployer, nil},
		{"bob", strata.RoleApprover, nil},
		{"carol", strata.RoleAdmin, nil},
		{"victor", strata.RoleViewer, nil},
		{"devon", strata.RoleViewer, []map[string]string{{"name": "dev"}}},
		{"eve", strata.RoleApprover, []map[string]string{{"region": "us"}}},
	})
	s, err := strhttp.New(strhttp.Config{Engine: e, Logger: slog.New(slog.NewTextHandler(x.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	x.srv = httptest.NewServer(s)
	t.Cleanup(x.srv.Close)
	return x
}

// as returns an engine acting as principal.
func (x *uiEstate) as(principal string) *engine.Engine {
	e := *x.engine
	e.Actor = principal
	return &e
}

// browser is an HTTP client with a cookie jar that does not follow redirects, so tests see
// where each answer sends the browser.
type browser struct {
	t   *testing.T
	c   *http.Client
	url string
}

func (x *uiEstate) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, url: x.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// login logs the browser in as principal and fails the test if that does not work.
func (x *uiEstate) login(t *testing.T, principal string) *browser {
	t.Helper()
	b := x.browser(t)
	res, _ := b.loginWith(x.tokens[principal])
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login as %s: status %d, want 303", principal, res.StatusCode)
	}
	return b
}

// loginWith posts token to the login form.
func (b *browser) loginWith(token string) (*http.Response, string) {
	_, page := b.get("/login")
	csrf := field(b.t, page, "csrf")
	return b.post("/login", url.Values{"csrf": {csrf}, "token": {token}})
}

func (b *browser) get(path string) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.Get(b.url + path)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, readAll(b.t, res)
}

func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	res, err := b.c.PostForm(b.url+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	return res, readAll(b.t, res)
}

// csrf reads the session's CSRF token from a page's hidden field.
func (b *browser) csrf() string {
	_, page := b.get("/releases")
	return field(b.t, page, "csrf")
}

func readAll(t *testing.T, res *http.Response) string {
	t.Helper()
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// field returns the value of the first hidden input called name.
func field(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s field in the page:\n%s", name, page)
	}
	return m[1]
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

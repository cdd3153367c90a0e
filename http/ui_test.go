package http_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// shipToProd releases api 1.0.0 (it lands in dev and staging by itself) and asks, as alice,
// to promote it to prod, where it waits for an approval. It returns the promotion.
func (x *uiEstate) shipToProd(t *testing.T) *strata.Promotion {
	t.Helper()
	ctx := context.Background()
	if _, err := x.as("alice").Release(ctx, "api", "1.0.0"); err != nil {
		t.Fatalf("release: %v", err)
	}
	res, err := x.as("alice").Promote(ctx, engine.PromoteRequest{Service: "api", Version: "1.0.0", To: "prod"})
	if strata.ErrorCode(err) != strata.EBLOCKED {
		t.Fatalf("promote to prod: %v, want it blocked on the approvals gate", err)
	}
	return res.Promotion
}

func TestLogin(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	t.Run("a browser without a session is sent to the login page, remembering where it was going", func(t *testing.T) {
		res, _ := x.browser(t).get("/audit?env=dev")
		if got := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || got != "/login?next=%2Faudit%3Fenv%3Ddev" {
			t.Fatalf("status %d, Location %q", res.StatusCode, got)
		}
	})
	t.Run("an htmx request without a session is told to load the login page whole", func(t *testing.T) {
		b := x.browser(t)
		req, _ := http.NewRequest("GET", b.url+"/?q=dev", nil)
		req.Header.Set("HX-Request", "true")
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != "/login?next=%2F%3Fq%3Ddev" {
			t.Fatalf("status %d, HX-Redirect %q", res.StatusCode, res.Header.Get("HX-Redirect"))
		}
	})
	t.Run("an unknown token is refused with 401 and the token is not logged", func(t *testing.T) {
		bogus := "strata_" + randomHex(20)
		res, page := x.browser(t).loginWith(bogus)
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(page, "unknown or was revoked") {
			t.Fatalf("status %d, page:\n%s", res.StatusCode, page)
		}
		if strings.Contains(x.logs.String(), bogus) {
			t.Fatal("the server log holds the pasted token")
		}
	})
	t.Run("a login form without its CSRF cookie is refused", func(t *testing.T) {
		b := x.browser(t)
		res, _ := b.post("/login", url.Values{"csrf": {"forged"}, "token": {x.tokens["victor"]}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
	})
	t.Run("a good token starts an HttpOnly SameSite=Strict session that holds neither token nor hash", func(t *testing.T) {
		b := x.browser(t)
		res, _ := b.loginWith(x.tokens["victor"])
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
			t.Fatalf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
		var c *http.Cookie
		for _, k := range res.Cookies() {
			if k.Name == "strata_session" {
				c = k
			}
		}
		if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode {
			t.Fatalf("session cookie %+v", c)
		}
		if c.Value == x.tokens["victor"] || c.Value == strata.HashToken(x.tokens["victor"]) {
			t.Fatal("the cookie holds the token or its hash")
		}
		if _, page := b.get("/"); !strings.Contains(page, `id="principal">victor<`) {
			t.Fatalf("the matrix does not name the principal:\n%s", page)
		}
	})
	t.Run("a login may only send the browser on to a path of this site", func(t *testing.T) {
		b := x.browser(t)
		_, page := b.get("/login?next=//evil.example/")
		res, _ := b.post("/login", url.Values{"csrf": {field(t, page, "csrf")}, "token": {x.tokens["victor"]}, "next": {"//evil.example/"}})
		if got := res.Header.Get("Location"); got != "/" {
			t.Fatalf("Location %q, want /", got)
		}
	})
	t.Run("logging out ends the session", func(t *testing.T) {
		b := x.login(t, "victor")
		res, _ := b.post("/logout", url.Values{"csrf": {b.csrf()}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("logout: status %d", res.StatusCode)
		}
		if res, _ := b.get("/"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("after logout: status %d, want a redirect to the login page", res.StatusCode)
		}
	})
	t.Run("revoking a token ends its sessions at once", func(t *testing.T) {
		secret, hash := strata.NewTokenSecret()
		if err := x.store.CreateToken(context.Background(), &strata.Token{Name: "temp", Role: strata.RoleViewer, Hash: hash}, nil); err != nil {
			t.Fatal(err)
		}
		b := x.browser(t)
		if res, _ := b.loginWith(secret); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("login: %d", res.StatusCode)
		}
		if err := x.store.RevokeToken(context.Background(), "temp", nil); err != nil {
			t.Fatal(err)
		}
		if res, _ := b.get("/"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("after revoke: status %d, want a redirect to the login page", res.StatusCode)
		}
	})
}

func TestMatrix(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	x.shipToProd(t)
	tests := []struct {
		name, who, path string
		want, not       []string
	}{
		{"every environment and service shows, the version coloured by its state", "victor", "/",
			[]string{`data-env="dev"`, `data-env="prod-eu"`, `<th><a href="/services/api">api</a></th>`, `<th><a href="/services/web">web</a></th>`, `class="st-succeeded"`, `>1.0.0</a>`, "4 of 4 environments"}, nil},
		{"a label filter keeps the environments that match", "victor", "/?label=tier=prod",
			[]string{`data-env="prod-us"`, `data-env="prod-eu"`, "2 of 4"}, []string{`data-env="dev"`}},
		{"two labels must both match", "victor", "/?label=tier=prod,region=eu",
			[]string{`data-env="prod-eu"`, "1 of 4"}, []string{`data-env="prod-us"`}},
		{"a name filter finds an environment", "victor", "/?q=stag",
			[]string{`data-env="staging"`, "1 of 4"}, []string{`data-env="prod-us"`}},
		{"grouping by a label makes one section per value", "victor", "/?group=region",
			[]string{`<th colspan="999">region=eu</th>`, `<th colspan="999">region=us</th>`}, nil},
		{"a malformed label filter is named, not fatal", "victor", "/?label=tier",
			[]string{`label filter &#34;tier&#34;: want key=value`}, nil},
		{"a scoped token sees only its environments", "devon", "/",
			[]string{`data-env="dev"`, "1 of 4"}, []string{`data-env="staging"`, `data-env="prod-us"`}},
		{"the releases page lists the open promotion and the release", "victor", "/releases",
			[]string{"Open promotions", `href="/releases/api/1.0.0"`, "waiting"}, nil},
		{"the waiting promotion is listed for those whose token reaches its stage", "victor", "/",
			[]string{"Waiting promotions", "api@1.0.0 → prod"}, nil},
		{"a token that does not reach the stage does not see its promotion", "devon", "/",
			nil, []string{"Waiting promotions"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, page := x.login(t, tt.who).get(tt.path)
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", res.StatusCode, page)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(page, n) {
					t.Errorf("page has %q", n)
				}
			}
			if t.Failed() {
				t.Log(page)
			}
		})
	}
	t.Run("a deployment that ends after the matrix was read shows at the next page", func(t *testing.T) {
		b := x.login(t, "victor")
		if _, page := b.get("/?q=dev"); strings.Contains(page, ">7.7.7</a>") {
			t.Fatal("7.7.7 shows before it was released")
		}
		if _, err := x.as("alice").Release(context.Background(), "web", "7.7.7"); err != nil {
			t.Fatal(err)
		}
		if _, page := b.get("/?q=dev"); !strings.Contains(page, ">7.7.7</a>") {
			t.Fatalf("the matrix does not show web 7.7.7 in dev:\n%s", page)
		}
	})
	t.Run("an htmx request for the matrix gets the table alone", func(t *testing.T) {
		b := x.login(t, "victor")
		req, _ := http.NewRequest("GET", b.url+"/?q=dev", nil)
		req.Header.Set("HX-Request", "true")
		req.Header.Set("HX-Target", "matrix")
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		page := readAll(t, res)
		if strings.Contains(page, "<html") || !strings.Contains(page, `data-env="dev"`) {
			t.Fatalf("fragment:\n%s", page)
		}
	})
}

func TestDecidingPromotions(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	p := x.shipToProd(t)
	page := "/releases/api/1.0.0"
	tests := []struct {
		name, who string
		want      string
	}{
		{"a deployer is told which roles can approve", "alice", "your role (deployer) cannot approve"},
		{"a viewer is told which roles can", "victor", "your role (viewer) cannot approve"},
		{"an approver whose token misses a stage environment is told so", "eve", "does not reach every environment of stage prod"},
		{"an approver sees the buttons and every gate with what would open it", "bob", `id="approve-` + p.ID + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, body := x.login(t, tt.who).get(page)
			if tt.want != "" && !strings.Contains(body, tt.want) {
				t.Fatalf("page lacks %q:\n%s", tt.want, body)
			}
			if tt.who != "bob" && strings.Contains(body, `id="approve-`) {
				t.Fatal("page offers an approve button")
			}
		})
	}
	t.Run("the gates of a waiting promotion name what would open them", func(t *testing.T) {
		_, body := x.login(t, "bob").get(page)
		if !strings.Contains(body, `data-gate="approvals"`) || !strings.Contains(body, "✗ closed") {
			t.Fatalf("page:\n%s", body)
		}
	})
	t.Run("a POST without the session's CSRF token is refused and changes nothing", func(t *testing.T) {
		b := x.login(t, "bob")
		res, _ := b.post("/promotions/"+p.ID+"/approve", url.Values{"csrf": {"forged"}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
		if got, _ := x.store.Promotion(context.Background(), p.ID); got.State != strata.Waiting || len(got.Approvals) != 0 {
			t.Fatalf("promotion %s with %d approvals", got.State, len(got.Approvals))
		}
	})
	t.Run("a viewer's approve is refused with 403", func(t *testing.T) {
		b := x.login(t, "victor")
		res, _ := b.post("/promotions/"+p.ID+"/approve", url.Values{"csrf": {b.csrf()}})
		if res.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", res.StatusCode)
		}
	})
	t.Run("an admin who asked for a promotion cannot approve it: the page says so", func(t *testing.T) {
		ctx := context.Background()
		if _, err := x.as("carol").Release(ctx, "web", "2.0.0"); err != nil {
			t.Fatal(err)
		}
		res, err := x.as("carol").Promote(ctx, engine.PromoteRequest{Service: "web", Version: "2.0.0", To: "prod"})
		if strata.ErrorCode(err) != strata.EBLOCKED {
			t.Fatalf("promote: %v", err)
		}
		b := x.login(t, "carol")
		if _, body := b.get("/releases/web/2.0.0"); !strings.Contains(body, "you requested this promotion") {
			t.Fatalf("page:\n%s", body)
		}
		b.post("/promotions/"+res.Promotion.ID+"/approve", url.Values{"csrf": {b.csrf()}})
		if _, body := b.get("/releases/web/2.0.0"); !strings.Contains(body, "Not approved") || !strings.Contains(body, "cannot approve it") {
			t.Fatalf("page:\n%s", body)
		}
	})
	t.Run("a second principal approves and the deployments run", func(t *testing.T) {
		b := x.login(t, "bob")
		res, _ := b.post("/promotions/"+p.ID+"/approve", url.Values{"csrf": {b.csrf()}})
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), page+"#p-") {
			t.Fatalf("status %d, Location %q", res.StatusCode, res.Header.Get("Location"))
		}
		got := waitPromotion(t, x, p.ID)
		if got.State != strata.Succeeded {
			t.Fatalf("promotion %s: %s", got.State, got.Error)
		}
		_, body := b.get(page)
		if !strings.Contains(body, "Approved "+p.ID) || !strings.Contains(body, "prod-eu") {
			t.Fatalf("page:\n%s", body)
		}
	})
}

func TestRejectingAPromotion(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	p := x.shipToProd(t)
	b := x.login(t, "carol")
	t.Run("a reject without a reason is refused and the promotion still waits", func(t *testing.T) {
		b.post("/promotions/"+p.ID+"/reject", url.Values{"csrf": {b.csrf()}})
		_, body := b.get("/releases/api/1.0.0")
		if !strings.Contains(body, "Not rejected") {
			t.Fatalf("page:\n%s", body)
		}
	})
	t.Run("a reject with a reason closes it", func(t *testing.T) {
		b.post("/promotions/"+p.ID+"/reject", url.Values{"csrf": {b.csrf()}, "reason": {"not today"}})
		got, _ := x.store.Promotion(context.Background(), p.ID)
		if got.State != strata.Rejected || got.Reason != "not today" {
			t.Fatalf("promotion %s (%q)", got.State, got.Reason)
		}
	})
}

// waitPromotion waits until a promotion has left waiting and running.
func waitPromotion(t *testing.T, x *uiEstate, id string) *strata.Promotion {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		p, err := x.store.Promotion(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if p.State != strata.Waiting && p.State != strata.Running {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("promotion %s still %s", id, p.State)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeploymentPage(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	x.shipToProd(t)
	ds, err := x.store.Deployments(context.Background(), strata.DeploymentFilter{Service: "api", Environment: "dev"})
	if err != nil || len(ds) == 0 {
		t.Fatalf("deployments: %v %d", err, len(ds))
	}
	d := ds[0]
	t.Run("a finished deployment shows its output, redacted, and opens no stream", func(t *testing.T) {
		_, page := x.login(t, "victor").get("/deployments/" + d.ID)
		if !strings.Contains(page, "deploying api to dev") || !strings.Contains(page, "password=***") {
			t.Fatalf("page:\n%s", page)
		}
		if strings.Contains(page, x.secret) {
			t.Fatal("the page shows the secret")
		}
		if strings.Contains(page, "sse-connect") {
			t.Fatal("a finished deployment opens a live stream")
		}
	})
	t.Run("a token that does not reach the environment is refused", func(t *testing.T) {
		staging, _ := x.store.Deployments(context.Background(), strata.DeploymentFilter{Environment: "staging", Limit: 1})
		res, page := x.login(t, "devon").get("/deployments/" + staging[0].ID)
		if res.StatusCode != http.StatusForbidden || strings.Contains(page, "deploying") {
			t.Fatalf("status %d:\n%s", res.StatusCode, page)
		}
	})
	t.Run("the event stream sends the output, the state and then done", func(t *testing.T) {
		b := x.login(t, "victor")
		res, err := b.c.Get(b.url + "/deployments/" + d.ID + "/events?after=0")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		if ct := res.Header.Get("Content-Type"); ct != "text/event-stream" {
			t.Fatalf("Content-Type %q", ct)
		}
		events := map[string]string{}
		sc := bufio.NewScanner(res.Body)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "data: "); ok {
				events[name] += v + "\n"
			}
		}
		if !strings.Contains(events["log"], "password=***") || !strings.Contains(events["state"], "succeeded") || events["done"] != "succeeded\n" {
			t.Fatalf("events: %q", events)
		}
		for _, v := range events {
			if strings.Contains(v, x.secret) {
				t.Fatal("the stream carries the secret")
			}
		}
	})
}

func TestAuditAndDiffPages(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	x.shipToProd(t)
	tests := []struct {
		name, who, path string
		status          int
		want, not       []string
	}{
		{"an admin sees the chain verified", "carol", "/audit", 200, []string{"Chain verified", "promote"}, nil},
		{"a viewer is told verification needs an admin", "victor", "/audit", 200, []string{"needs an admin token"}, []string{"Chain verified"}},
		{"a scoped token sees no event of another environment", "devon", "/audit", 200, []string{"<td>dev</td>"}, []string{"<td>staging</td>"}},
		{"the diff page names the config that differs", "victor", "/diff?a=prod-us&b=prod-eu", 200, []string{"LOG_LEVEL", "warn"}, nil},
		{"the same environment twice has nothing to differ", "victor", "/diff?a=dev&b=dev", 200, []string{`id="same"`}, nil},
		{"a diff with an environment the token does not reach is refused", "devon", "/diff?a=dev&b=staging", 403, nil, nil},
		{"an unknown environment is named", "victor", "/diff?a=dev&b=nope", 404, []string{"nope"}, nil},
		{"secret values are never shown in a diff", "carol", "/diff?a=dev&b=prod-eu", 200, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, page := x.login(t, tt.who).get(tt.path)
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d:\n%s", res.StatusCode, tt.status, page)
			}
			for _, w := range tt.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range append(tt.not, x.secret) {
				if strings.Contains(page, n) {
					t.Errorf("page has %q", n)
				}
			}
			if t.Failed() {
				t.Log(page)
			}
		})
	}
}

func TestSessionOnTheAPI(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	b := x.login(t, "carol")
	t.Run("a logged-in browser reads the API through its session", func(t *testing.T) {
		if res, body := b.get("/api/v1/environments"); res.StatusCode != http.StatusOK {
			t.Fatalf("status %d: %s", res.StatusCode, body)
		}
	})
	t.Run("a change through the session needs its CSRF header", func(t *testing.T) {
		req, _ := http.NewRequest("POST", b.url+"/api/v1/freezes", strings.NewReader(`{"env":"dev","reason":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		res, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, res)
		if res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", res.StatusCode)
		}
		fs, _ := x.store.Freezes(context.Background())
		if len(fs) != 0 {
			t.Fatal("dev was frozen")
		}
	})
}

func TestNoSecretOrTokenInAnyPage(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	p := x.shipToProd(t)
	b := x.login(t, "bob")
	b.post("/promotions/"+p.ID+"/approve", url.Values{"csrf": {b.csrf()}})
	waitPromotion(t, x, p.ID)
	admin := x.login(t, "carol")
	pages := []string{"/", "/?group=region", "/releases", "/releases/api/1.0.0", "/audit", "/webhooks", "/agents", "/diff?a=dev&b=prod-eu", "/login"}
	ds, err := x.store.Deployments(context.Background(), strata.DeploymentFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		pages = append(pages, "/deployments/"+d.ID, "/deployments/"+d.ID+"/events")
	}
	var forbidden []string
	forbidden = append(forbidden, x.secret)
	for _, tok := range x.tokens {
		forbidden = append(forbidden, tok, strata.HashToken(tok))
	}
	for _, path := range pages {
		_, body := admin.get(path)
		for _, f := range forbidden {
			if strings.Contains(body, f) {
				t.Errorf("%s holds a secret or a token", path)
			}
		}
	}
	for _, f := range forbidden {
		if strings.Contains(x.logs.String(), f) {
			t.Error("the server log holds a secret or a token")
		}
	}
	if !strings.Contains(x.logs.String(), "principal=bob") {
		t.Error("the server log does not name the principals (is it written at all?)")
	}
}

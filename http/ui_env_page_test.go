package http_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

func TestAnEnvironmentPageShowsWhereItsConfigComesFromAndNoSecret(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	if _, err := x.as("alice").Release(context.Background(), "api", "1.0"); err != nil {
		t.Fatal(err)
	}
	b := x.login(t, "carol")
	res, page := b.get("/environments/prod-eu")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /environments/prod-eu: %d %.300s", res.StatusCode, page)
	}
	for _, want := range []string{
		`<b>prod-eu</b> → <a href="/environments/prod-us">prod-us</a>`, // the extends chain
		`region=eu, tier=prod`,                                   // labels, resolved through extends
		`&#34;approvals&#34;:1`,                                  // policy, inherited
		`<th>LOG_LEVEL</th><td><code>warn</code></td><td><code>`, // config with its source
		`strata.yaml:`,
		`<th>DB_PASSWORD</th><td><span class="muted secret">secret</span>`,
		`id="freeze"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the environment page lacks %q", want)
		}
	}
	if strings.Contains(page, x.secret) {
		t.Fatal("the environment page shows the secret's value")
	}
	_, dev := b.get("/environments/dev")
	if !strings.Contains(dev, `<a href="/services/api">api</a></th><td>1.0</td>`) || !strings.Contains(dev, `id="history"`) {
		t.Errorf("dev's page does not show api 1.0 running, linked, with a history:\n%.2000s", dev)
	}
	_, svc := b.get("/services/api")
	if !strings.Contains(svc, `data-version="1.0"`) || !strings.Contains(svc, `<a href="/environments/dev">dev</a>, <a href="/environments/staging">staging</a>`) {
		t.Errorf("the service page does not say 1.0 runs in dev and staging:\n%.2000s", svc)
	}
	_, matrix := b.get("/")
	if !strings.Contains(matrix, `<a href="/environments/prod-eu">prod-eu</a>`) || !strings.Contains(matrix, `<a href="/services/api">api</a>`) {
		t.Error("the matrix does not link environments and services to their pages")
	}
	if res, _ := b.get("/environments/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown environment: %d, want 404", res.StatusCode)
	}
	devon := x.login(t, "devon")
	if res, _ := devon.get("/environments/prod-eu"); res.StatusCode != http.StatusForbidden {
		t.Errorf("a token for dev reads prod-eu's page: %d, want 403", res.StatusCode)
	}
}

func TestFreezingThroughTheEnvironmentPageIsAuditedLikeTheCLI(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	ctx := context.Background()
	frozen := func() *strata.Freeze {
		fs, err := x.store.Freezes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if f.Environment == "staging" {
				return f
			}
		}
		return nil
	}
	carol := x.login(t, "carol")
	csrf := carol.csrf()
	steps := []struct {
		name       string
		who        *browser
		path       string
		form       url.Values
		wantFrozen bool
	}{
		{"a post without the session's CSRF token is refused", carol, "/environments/staging/freeze", url.Values{"reason": {"incident"}}, false},
		{"a freeze without a reason is refused", carol, "/environments/staging/freeze", url.Values{"csrf": {csrf}, "reason": {"  "}}, false},
		{"a viewer may not freeze", x.login(t, "victor"), "/environments/staging/freeze", nil, false},
		{"an admin freezes with a reason", carol, "/environments/staging/freeze", url.Values{"csrf": {csrf}, "reason": {"incident <42> & \"more\""}}, true},
		{"an admin unfreezes", carol, "/environments/staging/unfreeze", url.Values{"csrf": {csrf}}, false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			form := s.form
			if form == nil {
				form = url.Values{"csrf": {s.who.csrf()}, "reason": {"because"}}
			}
			s.who.post(s.path, form)
			if got := frozen() != nil; got != s.wantFrozen {
				t.Fatalf("frozen = %v, want %v", got, s.wantFrozen)
			}
		})
	}
	events, err := x.store.Events(ctx, strata.EventFilter{Environment: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		if e.Actor == "carol" {
			actions = append(actions, e.Action)
		}
	}
	if strings.Join(actions, " ") != "freeze unfreeze" {
		t.Errorf("carol's audited actions on staging: %v, want [freeze unfreeze] as the CLI writes them", actions)
	}
}

package http_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-dev/strata/notify"
)

func TestTheWebhooksPageShowsDeliveriesAndFailuresWithoutCredentials(t *testing.T) {
	// A receiver that refuses everything: its deliveries stay pending with its answer.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
	}))
	defer refuse.Close()
	hook := refuse.URL + "/services/T0/B0/credential-in-the-path"
	x := newUIEstate(t, uiYAML+"notify:\n  - "+hook+"\n")
	p := x.shipToProd(t)
	d := &notify.Deliverer{Store: x.store, Hooks: x.engine.Project.Notify, Owner: "test/1/1"}
	if _, err := d.Pass(context.Background()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, who string
		want, not []string
	}{
		{"an unscoped viewer sees every delivery, its state and the receiver's answer", "victor",
			[]string{"waiting", p.ID, "502 Bad Gateway", "pending", `id="webhook-counts"`, refuse.URL + "/…"}, nil},
		{"a token scoped to dev does not see prod's promotion", "devon", []string{"succeeded"}, []string{p.ID, `id="webhook-counts"`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, page := x.login(t, c.who).get("/webhooks")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d:\n%s", res.StatusCode, page)
			}
			for _, w := range c.want {
				if !strings.Contains(page, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, n := range append(c.not, "credential-in-the-path", x.secret) {
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

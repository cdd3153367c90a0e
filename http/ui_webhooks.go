package http

import (
	"net/http"
	"slices"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/notify"
)

// webhooksView is the webhooks page: the declared webhooks and the newest deliveries of
// the store's outbox, with their outcomes.
type webhooksView struct {
	Hooks      []hookRow
	Deliveries []deliveryRow
	Counts     map[string]int
	Scoped     bool
}

// hookRow is a declared webhook as the page shows it: its URL without path and query
// (for Slack and others, the credential).
type hookRow struct {
	ID, URL string
	Events  []string
}

type deliveryRow struct {
	*strata.WebhookDelivery
	URL string
}

// webhooks shows the newest 200 deliveries: what each announced, to which webhook, its
// state, tries and the receiver's last answer. A token scoped to some environments sees
// what seesEvent lets it.
func (u *ui) webhooks(w http.ResponseWriter, r *http.Request, v *visit) {
	view := webhooksView{Scoped: len(v.token.Envs) > 0}
	urls := map[string]string{}
	for _, h := range v.engine.Project.Notify {
		row := hookRow{ID: notify.HookID(h.URL), URL: notify.RedactURL(h.URL), Events: h.Events}
		urls[row.ID] = row.URL
		view.Hooks = append(view.Hooks, row)
	}
	ds, err := v.engine.Store.WebhookDeliveries(r.Context(), 200)
	if err != nil {
		u.fail(w, r, v, err)
		return
	}
	if view.Scoped {
		ds = slices.DeleteFunc(ds, func(d *strata.WebhookDelivery) bool { return !seesEvent(v.token, v.engine.Project, d.Source) })
	} else if view.Counts, err = v.engine.Store.CountWebhooks(r.Context()); err != nil {
		u.fail(w, r, v, err)
		return
	}
	for _, d := range ds {
		url := urls[d.Hook]
		if url == "" {
			url = "(no longer in strata.yaml)"
		}
		view.Deliveries = append(view.Deliveries, deliveryRow{WebhookDelivery: d, URL: url})
	}
	u.render(w, r, v, http.StatusOK, "webhooks", "Webhooks", view)
}

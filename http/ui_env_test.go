package http_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestShortLivedEnvironmentsOnTheDashboard: the dashboard reads the server's project as it
// is now, as the API does: an environment made through the API after the server started is
// in the matrix and the diff page, and gone from the matrix once destroyed.
func TestShortLivedEnvironmentsOnTheDashboard(t *testing.T) {
	x := newUIEstate(t, uiYAML)
	api := func(method, path, body string) {
		t.Helper()
		req, _ := http.NewRequest(method, x.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+x.tokens["alice"])
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if page := readAll(t, res); res.StatusCode != http.StatusOK {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, page)
		}
	}
	b := x.login(t, "victor")
	api("POST", "/api/v1/environments", `{"name": "pr-42", "like": "dev", "labels": {"owner": "ann"}}`)
	tests := []struct{ name, path, want string }{
		{"the matrix shows it", "/", `data-env="pr-42"`},
		{"a label filter finds it by its own label", "/?label=owner=ann", `data-env="pr-42"`},
		{"the diff page compares it with its parent", "/diff?a=dev&b=pr-42", `id="same"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, page := b.get(tt.path)
			if res.StatusCode != http.StatusOK || !strings.Contains(page, tt.want) {
				t.Fatalf("status %d, want 200 with %q:\n%s", res.StatusCode, tt.want, page)
			}
		})
	}
	t.Run("once destroyed it is gone from the matrix", func(t *testing.T) {
		api("DELETE", "/api/v1/environments/pr-42", "")
		if _, page := b.get("/"); strings.Contains(page, `data-env="pr-42"`) {
			t.Fatalf("the matrix still shows pr-42:\n%s", page)
		}
	})
}

package http

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/strata-dev/strata"
)

// TestAnErrorIsFinalOnBothSidesOfTheNetwork: what strata.IsTerminal says of an error in the
// server, the header says, and the client's error says again, with the code kept; an
// error that comes with a document keeps its mark too.
func TestAnErrorIsFinalOnBothSidesOfTheNetwork(t *testing.T) {
	cases := []struct {
		name  string
		err   error
		doc   any
		final bool
	}{
		{"a failure marked final", strata.Terminal(strata.Errorf(strata.EFAILED, "the bundle is damaged")), nil, true},
		{"a failure marked final, with its document", strata.Terminal(strata.Errorf(strata.EFAILED, "the bundle is damaged")), map[string]string{"id": "d-1"}, true},
		{"bad input, final by its code", strata.Errorf(strata.EINVALID, "no such field"), nil, true},
		{"a failure worth retrying", strata.Errorf(strata.EFAILED, "the step exited 1"), nil, false},
		{"a conflict worth retrying", strata.Errorf(strata.ECONFLICT, "held by d-2"), nil, false},
		{"a gate that may open, with its document", strata.Errorf(strata.EBLOCKED, "gate soak"), map[string]string{"id": "p-1"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.writeError(w, r, c.err, c.doc) }))
			defer ts.Close()
			resp, err := http.Get(ts.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if got := resp.Header.Get(FinalHeader) == "true"; got != c.final {
				t.Errorf("%s: %q, want final %v", FinalHeader, resp.Header.Get(FinalHeader), c.final)
			}
			var doc map[string]any
			_, err = (&Client{URL: ts.URL}).do(t.Context(), "GET", "/", nil, nil, &doc)
			if got := strata.IsTerminal(err); got != c.final {
				t.Errorf("the client's error %v: final %v, want %v", err, got, c.final)
			}
			if got, want := strata.ErrorCode(err), strata.ErrorCode(c.err); got != want {
				t.Errorf("the client's error has code %s, want %s", got, want)
			}
		})
	}
}

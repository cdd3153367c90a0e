package http

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
)

// TestADocumentThatCannotBeEncodedIsAnErrorNotAnEmpty200: the configuration loader refuses
// NaN now, so no route makes such a document from a project; the writer's rule is tested
// here, inside, with the value no JSON can carry.
func TestADocumentThatCannotBeEncodedIsAnErrorNotAnEmpty200(t *testing.T) {
	var log bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&log, nil))}
	w := httptest.NewRecorder()
	s.writeJSON(w, httptest.NewRequest("GET", "/api/v1/config/web?env=dev", nil), http.StatusOK, map[string]any{"RATIO": math.NaN()})
	if w.Code != 500 || w.Header().Get(ExitHeader) != "1" || w.Header().Get(ErrorCodeHeader) != strata.EINTERNAL {
		t.Fatalf("status %d exit %q code %q, want 500, 1 and internal: %q", w.Code, w.Header().Get(ExitHeader), w.Header().Get(ErrorCodeHeader), w.Body)
	}
	var doc struct {
		Error struct{ Code, Message string }
	}
	if err := json.Unmarshal(w.Body.Bytes(), &doc); err != nil || doc.Error.Code != strata.EINTERNAL {
		t.Errorf("body %q (%v), want an internal error document", w.Body, err)
	}
	if strings.Contains(w.Body.String(), "NaN") {
		t.Errorf("the client is told why in words meant for the server's log: %q", w.Body)
	}
	if !strings.Contains(log.String(), "NaN") {
		t.Errorf("the server log does not say why:\n%s", log.String())
	}
}

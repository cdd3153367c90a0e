package http_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/report"
)

// answer is a canned server response.
type answer struct {
	status  int
	headers map[string]string
	body    string
}

func serveAnswer(t *testing.T, a answer, seen *http.Request) *strhttp.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if seen != nil {
			*seen = *r.Clone(context.Background())
		}
		for k, v := range a.headers {
			w.Header().Set(k, v)
		}
		w.WriteHeader(a.status)
		w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	c, err := strhttp.NewClient(srv.URL, "strata_secret")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientMapsResponsesToTheCLIsErrors(t *testing.T) {
	promotion := `{"id":"p1","service":"app","version":"1.0","stage":"prod","state":"waiting","requester":"ann","approvals":null,"gates":[{"name":"approvals","ok":false,"detail":"needs 1 more"}],"waves":[["prod"]],"deployments":[]}`
	for _, tc := range []struct {
		name     string
		answer   answer
		wantCode string
		wantMsg  string
		wantDoc  bool
	}{
		{"a done promotion is its document and no error", answer{200, map[string]string{"Strata-Exit": "0"}, promotion}, "", "", true},
		{"a blocked promotion keeps its document and the message from the header",
			answer{409, map[string]string{"Strata-Exit": "3", "Strata-Error-Code": "blocked", "Strata-Error": "promotion+p1+waits%3A+approvals"}, promotion},
			strata.EBLOCKED, "promotion p1 waits: approvals", true},
		{"an error without a document reads the error body",
			answer{404, map[string]string{"Strata-Exit": "2", "Strata-Error-Code": "not_found"}, `{"error":{"code":"not_found","message":"unknown promotion \"p9\""}}`},
			strata.ENOTFOUND, `unknown promotion "p9"`, false},
		{"a bad token is unauthorized with the server's message",
			answer{401, nil, `{"error":{"code":"unauthorized","message":"the token is not valid"}}`},
			strata.EUNAUTHORIZED, "the token is not valid", false},
		{"a forbidden environment is unauthorized",
			answer{403, map[string]string{"Strata-Exit": "4"}, `{"error":{"code":"unauthorized","message":"token dev-only does not cover prod"}}`},
			strata.EUNAUTHORIZED, "token dev-only does not cover prod", false},
		{"a route the server lacks says so",
			answer{404, nil, "404 page not found\n"},
			strata.ENOTFOUND, "has no route POST /api/v1/promotions/p1/approve", false},
		{"a proxy's page is an internal error naming the status",
			answer{502, nil, "<html>bad gateway</html>"},
			strata.EINTERNAL, "answered POST /api/v1/promotions/p1/approve with 502 Bad Gateway", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var seen http.Request
			c := serveAnswer(t, tc.answer, &seen)
			doc, err := strhttp.Run(context.Background(), c, command.Approve, report.ApproveRequest{ID: "p1"})
			if got := strata.ErrorCode(err); got != tc.wantCode {
				t.Fatalf("code %q, want %q (err %v)", got, tc.wantCode, err)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("message %q, want it to hold %q", err.Error(), tc.wantMsg)
			}
			if (doc != nil) != tc.wantDoc {
				t.Fatalf("document %v, want one: %v", doc, tc.wantDoc)
			}
			if doc != nil && (doc.ID != "p1" || len(doc.Gates) != 1 || doc.Gates[0].OK) {
				t.Errorf("document %+v", doc)
			}
			if got := seen.Header.Get("Authorization"); got != "Bearer strata_secret" {
				t.Errorf("Authorization %q", got)
			}
		})
	}
}

func TestClientSendsQueriesAndKeepsNumbersAsWritten(t *testing.T) {
	var seen http.Request
	c := serveAnswer(t, answer{200, nil, `{"service":"app","environment":"prod b","values":{"SIZE":3,"RATIO":0.25,"BIG":12345678901234567890},"sources":{}}`}, &seen)
	doc, err := strhttp.Run(context.Background(), c, command.Config, report.ConfigRequest{Service: "app", Env: "prod b", Explain: true})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := seen.URL.String(), "/api/v1/config/app?env=prod+b&explain=1"; got != want {
		t.Errorf("asked %s, want %s", got, want)
	}
	for k, want := range map[string]string{"SIZE": "3", "RATIO": "0.25", "BIG": "12345678901234567890"} {
		if got := report.FormatValue(doc.Values[k]); got != want {
			t.Errorf("%s prints %q, want %q", k, got, want)
		}
	}
}

func TestAnUnreachableServerIsOneClearLine(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := strhttp.NewClient("http://"+addr, "t")
	if err != nil {
		t.Fatal(err)
	}
	_, err = strhttp.Run(context.Background(), c, command.Status, report.StatusRequest{})
	want := "cannot reach the Strata server at http://" + addr + ": connection refused (is `strata serve` running?)"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %q", err, want)
	}
	if got := strata.ExitStatus(err); got != 2 {
		t.Errorf("exit %d, want 2", got)
	}
}

func TestABadServerURLIsInvalid(t *testing.T) {
	for _, u := range []string{"127.0.0.1:7480", "ftp://host", "http://", "::"} {
		_, err := strhttp.NewClient(u, "")
		var se *strata.Error
		if !errors.As(err, &se) || se.Code != strata.EINVALID {
			t.Errorf("NewClient(%q) = %v, want an invalid error", u, err)
		}
	}
}

func TestAPasswordInTheServerURLIsNotShown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := strhttp.NewClient("http://ci:hunter2@"+addr, "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = strhttp.Run(context.Background(), c, command.Status, report.StatusRequest{})
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), "ci:xxxxx@"+addr) {
		t.Errorf("got %v, want the URL with its password hidden", err)
	}
}

package main_test

// End-to-end tests of the PostgreSQL store (--store postgres://... / STRATA_STORE): the same
// commands as on SQLite, run as separate processes that share one PostgreSQL schema.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgServer is the server CI provides; STRATA_TEST_POSTGRES names another, or "off" skips.
const pgServer = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// pgSchema creates an empty schema on the test server, dropped when t ends, and returns a
// connection to the server and the store URL whose search_path is that schema. It fails t
// when no server can be reached.
func pgSchema(t *testing.T) (*pgx.Conn, string) {
	t.Helper()
	base := os.Getenv("STRATA_TEST_POSTGRES")
	if base == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: PostgreSQL end-to-end tests skipped")
	}
	if base == "" {
		base = pgServer
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("the PostgreSQL end-to-end tests need a server: %v\n"+
			"start one (see .ci/run), point STRATA_TEST_POSTGRES at one, or set STRATA_TEST_POSTGRES=off to skip them", err)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "strata_e2e_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		c.Close(ctx)
	})
	if _, err := c.Exec(ctx, `SET search_path TO `+schema); err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("STRATA_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return c, u.String()
}

// pgCount returns the number of rows of table in the test's schema.
func pgCount(t *testing.T, c *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPostgresStoreReleaseDeployPromoteApproveAndAudit(t *testing.T) {
	t.Parallel()
	c, storeURL := pgSchema(t)
	e := newEstate(t, govEstate)
	e.env = append(e.env, "STRATA_STORE="+storeURL)

	e.release("db", "--version", "1")
	e.release("api", "--version", "1")
	if e.versions("api-staging") != "1" || e.versions("db-staging") != "1" {
		t.Fatalf("releases did not land in dev and staging by themselves: api %q, db %q", e.read("api-staging"), e.read("db-staging"))
	}
	if d := e.deploy(0, "api@1", "--env", "dev"); d.State != "succeeded" {
		t.Fatalf("deploy: %+v, want succeeded", d)
	}

	api := e.promote(3, "promote", "api@1", "--as", "alice")
	if api.State != "waiting" || api.ID == "" {
		t.Fatalf("promote: %+v, want waiting", api)
	}
	db := e.promote(3, "promote", "db@1", "--as", "alice")
	events := e.auditCount()
	e.must(2, "approve", db.ID, "--as", "alice")
	if n := e.auditCount(); n != events {
		t.Errorf("the requester's refused approval changed the audit log: %d events, then %d", events, n)
	}
	if p := e.promote(0, "approve", db.ID, "--as", "bob"); p.State != "succeeded" {
		t.Fatalf("approved db promotion: %+v", p)
	}
	e.must(2, "approve", db.ID, "--as", "bob")
	if p := e.promote(0, "approve", api.ID, "--as", "bob"); p.State != "succeeded" || e.versions("api-prod-eu") != "1" {
		t.Fatalf("approved api promotion: %+v; api-prod-eu %q", p, e.read("api-prod-eu"))
	}

	var v verifyDoc
	jsonDoc(t, e.must(0, "audit", "--verify", "-o", "json"), &v)
	all := e.auditCount()
	if !v.OK || v.Events != all || all < 10 {
		t.Errorf("audit --verify: %+v, want ok over all %d events", v, all)
	}
	if n := pgCount(t, c, "events"); n != all {
		t.Errorf("the schema holds %d events, audit lists %d", n, all)
	}
	if n := pgCount(t, c, "deployments"); n < 7 {
		t.Errorf("the schema holds %d deployments, want at least 7 (dev, staging and prod of both services, and the deploy)", n)
	}
	if _, err := os.Stat(filepath.Join(e.dir, ".strata", "state.db")); err == nil {
		t.Error("an SQLite store was made beside strata.yaml although STRATA_STORE names PostgreSQL")
	}

	// The audit log is append-only in the database too, and an edit made there anyway (with
	// the trigger dropped) is what --verify finds.
	if _, err := c.Exec(t.Context(), `UPDATE events SET actor = 'mallory' WHERE seq = 2`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("editing an event: %v, want the append-only refusal", err)
	}
	if _, err := c.Exec(t.Context(), `ALTER TABLE events DISABLE TRIGGER events_no_update; UPDATE events SET actor = 'mallory' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	var broken verifyDoc
	jsonDoc(t, e.must(1, "audit", "--verify", "-o", "json"), &broken)
	if broken.OK || broken.BrokenAt == nil || *broken.BrokenAt != 2 {
		t.Errorf("audit --verify after an edit: %+v, want broken at 2", broken)
	}
}

func TestPostgresStoreHoldsAPairAcrossProcesses(t *testing.T) {
	t.Parallel()
	_, storeURL := pgSchema(t)
	e := newEstate(t, `project: lock
environments:
  prod: {}
services:
  api:
    deploy: 'touch "@SCRATCH@/started"; while [ ! -e "@SCRATCH@/go" ]; do sleep 0.05; done'
`)
	e.env = append(e.env, "STRATA_STORE="+storeURL)
	e.must(0, "release", "api", "--version", "1")
	first := e.start("deploy", "api@1", "--env", "prod")
	waitFor(t, 30*time.Second, "the first deploy's step to start", func() bool {
		_, err := os.Stat(e.path("started"))
		return err == nil || first.ended()
	})
	if first.ended() {
		t.Fatalf("the first deploy ended early:\n%s", first.wait(t, time.Second))
	}
	r := e.must(3, "deploy", "api@1", "--env", "prod", "--no-wait")
	held := e.history("api", "--env", "prod")
	if len(held) != 1 || !strings.Contains(r.stderr, held[0].ID) {
		t.Errorf("the second deploy's refusal should name the running deployment %+v:\n%s", held, r)
	}
	os.WriteFile(e.path("go"), nil, 0o644)
	if r := first.wait(t, 30*time.Second); r.code != 0 {
		t.Fatalf("the first deploy: %s", r)
	}
}

func TestPostgresStoreURLsNeverShowThePassword(t *testing.T) {
	t.Parallel()
	e := newEstate(t, "project: p\nenvironments:\n  dev: {}\nservices:\n  api: {deploy: 'true'}\n")
	tests := []struct {
		name string
		url  string
		code int
	}{
		{"an unreachable server", "postgres://strata:s3cret-pw@127.0.0.1:1/strata?sslmode=disable&connect_timeout=2", 1},
		{"a password parameter", "postgres://127.0.0.1:1/strata?sslmode=disable&password=s3cret-pw&connect_timeout=2", 1},
		{"an unknown scheme", "mysql://strata:s3cret-pw@db/strata", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := e.with(t)
			e.env = append(e.env, "STRATA_STORE="+tt.url)
			r := e.must(tt.code, "history")
			if strings.Contains(r.stdout+r.stderr, "s3cret") {
				t.Errorf("the password shows:\n%s", r)
			}
			if !strings.Contains(r.stderr, "127.0.0.1") && !strings.Contains(r.stderr, "mysql://") {
				t.Errorf("the error does not say which store:\n%s", r)
			}
		})
	}
}

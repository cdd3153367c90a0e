package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
	"github.com/strata-dev/strata/storetest"
)

// defaultServer is the server CI provides; STRATA_TEST_POSTGRES names another, or "off"
// skips these tests where no server can be had.
const defaultServer = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// TestMain runs up to 4 parallel tests at once unless -test.parallel says otherwise: the
// contract's groups run in parallel, and most of their time is the server's (a connection,
// a schema and its migrations for each case), which overlaps; go test's default of
// GOMAXPROCS ran two at a time on a 2-core machine.
func TestMain(m *testing.M) {
	flag.Parse()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	if !given {
		flag.Set("test.parallel", "4")
	}
	code := m.Run()
	if err := stores.drain(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// reachable is whether the test server answered, asked once for all tests (a connection
// costs the server a process: 100ms on a busy machine).
var reachable = sync.OnceValues(func() (string, error) {
	u := os.Getenv("STRATA_TEST_POSTGRES")
	if u == "" {
		u = defaultServer
	}
	if u == "off" {
		return u, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		return u, err
	}
	return u, c.Close(ctx)
})

// server returns the URL of the test server, failing t when it cannot be reached.
func server(t *testing.T) string {
	t.Helper()
	u, err := reachable()
	if u == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: PostgreSQL store tests skipped")
	}
	if err != nil {
		t.Fatalf("the PostgreSQL store tests need a server: %v\n"+
			"start one (see .ci/run), point STRATA_TEST_POSTGRES at one, or set STRATA_TEST_POSTGRES=off to skip them", err)
	}
	return u
}

// admin returns a connection to the test server for setting up and inspecting schemas.
func admin(t *testing.T) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(t.Context(), server(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// schema creates an empty schema, dropped when t ends, and returns its name and the URL of
// the test server with that schema as its search_path. One connection does both.
func schema(t *testing.T) (name, u string) {
	t.Helper()
	base := server(t)
	var b [6]byte
	rand.Read(b[:])
	name = "strata_test_" + hex.EncodeToString(b[:])
	c, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	if _, err := c.Exec(t.Context(), `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	return name, withSearchPath(t, base, name)
}

// withSearchPath returns u with search_path set to schema.
func withSearchPath(t *testing.T, u, schema string) string {
	t.Helper()
	if _, err := url.Parse(u); err != nil {
		t.Fatalf("STRATA_TEST_POSTGRES must be a URL: %v", err)
	}
	return withSearchPathURL(u, schema)
}

// withSearchPathURL returns u, a URL, with search_path set to schema.
func withSearchPathURL(u, schema string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := p.Query()
	q.Set("search_path", schema)
	p.RawQuery = q.Encode()
	return p.String()
}

// open opens a store at u, closed when t ends.
func open(t *testing.T, u string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(u, storetest.Ticking())
	return storetest.Opened(t, db, err)
}

func TestContract(t *testing.T) {
	storetest.RunEveryWay(t, func(t *testing.T, now func() time.Time) (strata.Store, error) {
		_, u := migrated(t)
		return postgres.Open(u, now)
	})
}

func TestOpenRefusesWhatIsNotAStrataStoreAndLeavesItUntouched(t *testing.T) {
	tests := []struct {
		name    string
		make    func(t *testing.T, u string, c *pgx.Conn)
		message string
	}{
		{"a schema holding another program's tables is not a store", func(t *testing.T, u string, c *pgx.Conn) {
			exec(t, c, `CREATE TABLE notes (id integer PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'mine')`)
		}, "is not a Strata store"},
		{"a store from a newer Strata is refused", func(t *testing.T, u string, c *pgx.Conn) {
			open(t, u).Close()
			exec(t, c, fmt.Sprintf(`INSERT INTO schema_version (version, applied_at) VALUES (%d, 0)`, strata.SchemaVersion+1))
		}, fmt.Sprintf("was written by a newer Strata (schema %d, this binary reads up to %d); upgrade strata", strata.SchemaVersion+1, strata.SchemaVersion)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name, u := schema(t)
			c := admin(t)
			exec(t, c, `SET search_path TO `+name)
			tt.make(t, u, c)
			before := dump(t, c, name)
			_, err := postgres.Open(u, nil)
			if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("open = %v, want EINVALID %q", err, tt.message)
			}
			if after := dump(t, c, name); after != before {
				t.Fatalf("the refused schema changed:\n%s\nthen\n%s", before, after)
			}
		})
	}
}

func TestOpenRefusesASearchPathNamingNoSchema(t *testing.T) {
	u := withSearchPath(t, server(t), "strata_test_absent")
	_, err := postgres.Open(u, nil)
	if strata.ErrorCode(err) != strata.EINVALID || !strings.Contains(err.Error(), "strata_test_absent") {
		t.Fatalf("open = %v, want EINVALID naming the search_path", err)
	}
}

func TestErrorsNeverShowThePassword(t *testing.T) {
	for _, u := range []string{
		"postgres://strata:s3cret-pw@127.0.0.1:1/strata?sslmode=disable&connect_timeout=2",
		"postgres://strata@127.0.0.1:1/strata?sslmode=disable&connect_timeout=2&password=s3cret-pw",
		"postgres://strata:s3cret-pw@127.0.0.1:notaport/strata",
	} {
		_, err := postgres.Open(u, nil)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("open %s = %v, want an error without the password", u, err)
		}
	}
}

func TestTheAuditLogCannotBeEditedInTheDatabase(t *testing.T) {
	name, u := migrated(t)
	db := open(t, u)
	if err := db.AppendEvent(t.Context(), &strata.Event{Actor: "a", Action: "x"}); err != nil {
		t.Fatal(err)
	}
	c := admin(t)
	exec(t, c, `SET search_path TO `+name)
	for _, q := range []string{`UPDATE events SET actor = 'mallory'`, `DELETE FROM events`, `TRUNCATE events`} {
		if _, err := c.Exec(t.Context(), q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	storetest.Reopen(t, func(t *testing.T) func() (strata.Store, error) {
		_, u := schema(t)
		return func() (strata.Store, error) { return postgres.Open(u, storetest.Ticking()) }
	})
}

func TestTwoProcessesTakingTurnsContinueOneAuditChain(t *testing.T) {
	storetest.TakeTurns(t, func(t *testing.T) func() (strata.Store, error) {
		_, u := schema(t)
		return func() (strata.Store, error) { return postgres.Open(u, storetest.Ticking()) }
	})
}

// exec runs q on c or fails t.
func exec(t *testing.T, c *pgx.Conn, q string) {
	t.Helper()
	if _, err := c.Exec(t.Context(), q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// dump describes a schema's tables and their rows, to compare before and after.
func dump(t *testing.T, c *pgx.Conn, schema string) string {
	t.Helper()
	rows, err := c.Query(t.Context(), `SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		var rows string
		err := c.QueryRow(t.Context(), `SELECT coalesce(string_agg(t::text, ';' ORDER BY t::text), '') FROM `+schema+`.`+table+` t`).Scan(&rows)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s: %s\n", table, rows)
	}
	return b.String()
}

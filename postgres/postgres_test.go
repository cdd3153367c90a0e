package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
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

// server returns the URL of the test server, failing t when it cannot be reached.
func server(t *testing.T) string {
	t.Helper()
	u := os.Getenv("STRATA_TEST_POSTGRES")
	if u == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: PostgreSQL store tests skipped")
	}
	if u == "" {
		u = defaultServer
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("the PostgreSQL store tests need a server: %v\n"+
			"start one (see .ci/run), point STRATA_TEST_POSTGRES at one, or set STRATA_TEST_POSTGRES=off to skip them", err)
	}
	c.Close(ctx)
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
// the test server with that schema as its search_path.
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
	defer c.Close(context.Background())
	if _, err := c.Exec(t.Context(), `CREATE SCHEMA `+name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", name, err)
		}
	})
	return name, withSearchPath(t, base, name)
}

// withSearchPath returns u with search_path set to schema.
func withSearchPath(t *testing.T, u, schema string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("STRATA_TEST_POSTGRES must be a URL: %v", err)
	}
	q := p.Query()
	q.Set("search_path", schema)
	p.RawQuery = q.Encode()
	return p.String()
}

// ticking returns a clock that starts at a fixed time and moves one millisecond per reading,
// so "newest first" is never a tie.
func ticking() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Millisecond)
		return t
	}
}

// open opens a store at u, closed when t ends.
func open(t *testing.T, u string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(u, ticking())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) strata.Store {
		_, u := schema(t)
		db, err := postgres.Open(u, ticking())
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func TestContractWithTheSameTimeEverywhere(t *testing.T) {
	t.Parallel()
	// A clock that stands still (or a coarse one) must not change the order of anything.
	at := time.Date(2030, 3, 1, 12, 0, 0, 0, time.UTC)
	storetest.Run(t, func(t *testing.T) strata.Store {
		_, u := schema(t)
		db, err := postgres.Open(u, func() time.Time { return at })
		if err != nil {
			t.Fatal(err)
		}
		return db
	})
}

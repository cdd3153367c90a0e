// Package testpg gives a test a schema of its own on the test PostgreSQL server:
// $STRATA_TEST_POSTGRES, or the one CI provides (127.0.0.1:5432, database test). With
// STRATA_TEST_POSTGRES=off the test is skipped.
package testpg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Server returns the test server's URL, skipping t when STRATA_TEST_POSTGRES is off.
func Server(t testing.TB) string {
	t.Helper()
	base := os.Getenv("STRATA_TEST_POSTGRES")
	if base == "off" {
		t.Skip("STRATA_TEST_POSTGRES=off: no PostgreSQL store to test on")
	}
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	}
	return base
}

// Schema makes an empty schema on the test server, dropped when t ends, and returns the
// store URL whose search_path it is.
func Schema(t testing.TB) string {
	t.Helper()
	base := Server(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("this test needs a PostgreSQL server (or STRATA_TEST_POSTGRES=off): %v", err)
	}
	var b [6]byte
	rand.Read(b[:])
	name := "strata_test_" + hex.EncodeToString(b[:])
	if _, err := c.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		c.Close(ctx)
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
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("STRATA_TEST_POSTGRES must be a URL: %v", err)
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	return u.String()
}

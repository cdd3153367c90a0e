package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/postgres"
)

// Most tests want an empty store, not a store made from nothing: making one (a schema and
// every migration, each its own transaction) is most of what a contract case cost, and the
// contract runs about three hundred cases. So stores made once are lent out, one test at a
// time, and emptied when the test ends: every row deleted, every sequence restarted, the
// schema and its version kept. What migrating from nothing does is tested on schemas of
// their own (schema, in postgres_test.go).

// stores is the process's pool of migrated schemas.
var stores schemaPool

// schemaPool lends migrated schemas to one test at a time.
type schemaPool struct {
	mu    sync.Mutex
	admin *pgxpool.Pool // the harness's connections, for making and emptying schemas
	free  []*lent       // emptied, waiting for a test
	all   []string      // every schema made, dropped by drain
}

// lent is a schema of the pool: its name and the statement that empties it.
type lent struct {
	name  string
	empty string
}

// migrated returns the name of a schema holding an empty store at this binary's schema
// version, and the URL of the test server with that schema as its search_path. The schema
// is t's alone until t ends; then it is emptied and lent to the next test, or dropped when
// it cannot be emptied.
func migrated(t *testing.T) (name, u string) {
	t.Helper()
	base := server(t)
	p := &stores
	s, err := p.take(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := p.giveBack(ctx, s); err != nil {
			// Correct, only slower: the next test makes a schema of its own.
			t.Logf("schema %s could not be emptied for the next test, so it was dropped: %v", s.name, err)
		}
	})
	return s.name, withSearchPath(t, base, s.name)
}

// take returns a free schema, or makes one: an empty schema that postgres.Open migrates.
func (p *schemaPool) take(ctx context.Context, base string) (*lent, error) {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		s := p.free[n-1]
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return s, nil
	}
	if p.admin == nil {
		admin, err := pgxpool.New(context.Background(), base)
		if err != nil {
			p.mu.Unlock()
			return nil, err
		}
		p.admin = admin
	}
	admin := p.admin
	var b [6]byte
	rand.Read(b[:])
	name := "strata_test_pool_" + hex.EncodeToString(b[:])
	p.all = append(p.all, name, name+"_seed")
	p.mu.Unlock()

	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		return nil, err
	}
	db, err := postgres.Open(withSearchPathURL(base, name), nil)
	if err != nil {
		return nil, fmt.Errorf("migrate pooled schema %s: %w", name, err)
	}
	db.Close()
	empty, err := emptying(ctx, admin, name)
	if err != nil {
		return nil, err
	}
	return &lent{name: name, empty: empty}, nil
}

// emptying returns the statement that puts schema name back as its migrations left it,
// read now, just after they ran: it deletes the rows of every table but the two that say
// the schema is a store and which migrations it has (so a table a later migration adds is
// emptied too), puts back the rows a migration wrote (webhook_cursor's, say: kept in a
// schema beside it, name_seed), and sets every sequence where it was. The deletes run as a
// replica would apply them, with triggers off: the audit log refuses DELETE and TRUNCATE to
// everyone else, and foreign keys need no order when every row goes. DELETE, not TRUNCATE:
// a truncate makes new files for each table and index, which costs more than the rows a
// test leaves.
func emptying(ctx context.Context, admin *pgxpool.Pool, name string) (string, error) {
	rows, err := admin.Query(ctx, `SELECT quote_ident(tablename) FROM pg_tables
		WHERE schemaname = $1 AND tablename NOT IN ('strata_store', 'schema_version') ORDER BY 1`, name)
	if err != nil {
		return "", fmt.Errorf("list the tables of %s: %w", name, err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return "", fmt.Errorf("list the tables of %s: %w", name, err)
	}
	if len(tables) == 0 {
		return "", fmt.Errorf("schema %s holds no tables: the store was not migrated", name)
	}
	seed := name + "_seed"
	stmts := []string{"BEGIN", "SET LOCAL session_replication_role = replica"}
	var restore []string
	for _, table := range tables {
		stmts = append(stmts, "DELETE FROM "+name+"."+table)
		var seeded bool
		if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+name+`.`+table+`)`).Scan(&seeded); err != nil {
			return "", err
		}
		if !seeded {
			continue
		}
		if len(restore) == 0 {
			if _, err := admin.Exec(ctx, `CREATE SCHEMA `+seed); err != nil {
				return "", err
			}
		}
		if _, err := admin.Exec(ctx, `CREATE TABLE `+seed+`.`+table+` AS TABLE `+name+`.`+table); err != nil {
			return "", err
		}
		restore = append(restore, "INSERT INTO "+name+"."+table+" SELECT * FROM "+seed+"."+table)
	}
	stmts = append(stmts, restore...)
	rows, err = admin.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename), coalesce(last_value, 1), last_value IS NOT NULL
		FROM pg_sequences WHERE schemaname = $1`, name)
	if err != nil {
		return "", fmt.Errorf("list the sequences of %s: %w", name, err)
	}
	var seq string
	var last int64
	var called bool
	_, err = pgx.ForEachRow(rows, []any{&seq, &last, &called}, func() error {
		stmts = append(stmts, fmt.Sprintf("SELECT setval(%s, %d, %t)", quoteLiteral(seq), last, called))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("list the sequences of %s: %w", name, err)
	}
	return strings.Join(append(stmts, "COMMIT"), "; "), nil
}

// quoteLiteral returns s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// giveBack empties s and makes it free, or drops it when it cannot be emptied (a server
// where the tests' user may not set session_replication_role, say).
func (p *schemaPool) giveBack(ctx context.Context, s *lent) error {
	if _, err := p.admin.Exec(ctx, s.empty); err != nil {
		p.drop(ctx, s.name)
		return err
	}
	p.mu.Lock()
	p.free = append(p.free, s)
	p.mu.Unlock()
	return nil
}

// drop drops schema name and forgets it.
func (p *schemaPool) drop(ctx context.Context, name string) error {
	p.mu.Lock()
	for i, n := range p.all {
		if n == name {
			p.all = append(p.all[:i], p.all[i+1:]...)
			break
		}
	}
	p.mu.Unlock()
	_, err := p.admin.Exec(ctx, `DROP SCHEMA IF EXISTS `+name+` CASCADE`)
	return err
}

// drain drops every schema the pool made, once every test has ended.
func (p *schemaPool) drain() error {
	p.mu.Lock()
	names := append([]string(nil), p.all...)
	admin := p.admin
	p.mu.Unlock()
	if admin == nil {
		return nil
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var errs []error
	for _, name := range names {
		if err := p.drop(ctx, name); err != nil {
			errs = append(errs, fmt.Errorf("drop schema %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}

// TestALentSchemaIsGivenBackAsANewStoreWouldBe proves the pool's emptying: a schema a test
// wrote to (deployments, events, queued webhooks: the cursor a migration seeded moves) reads,
// once given back, as a schema just made and migrated does, table by table and sequence by
// sequence, but for the times the two were made.
func TestALentSchemaIsGivenBackAsANewStoreWouldBe(t *testing.T) {
	base := server(t)
	s, err := stores.take(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	db := open(t, withSearchPath(t, base, s.name))
	d := &strata.Deployment{Service: "api", Environment: "dev", Version: "1", State: strata.Running,
		Owner: strata.Owner{Host: "h", PID: 1, Start: 1}}
	if err := db.CreateDeployment(t.Context(), d, &strata.Event{Actor: "a", Action: "deploy"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.QueueWebhooks(t.Context(), []string{"deploy"}, time.Time{}, func(*strata.Event) (string, []string) {
		return "deploy", []string{"hook"}
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	c := admin(t)
	if dump(t, c, s.name) == dump(t, c, fresh(t)) {
		t.Fatal("the lent schema reads as a new one before it was given back: this test proves nothing")
	}
	if err := stores.giveBack(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	if got, want := state(t, c, s.name), state(t, c, fresh(t)); got != want {
		t.Fatalf("the schema given back holds\n%s\na new store holds\n%s", got, want)
	}
}

// fresh returns the name of a schema just made and migrated.
func fresh(t *testing.T) string {
	t.Helper()
	name, u := schema(t)
	open(t, u).Close()
	return name
}

// state is dump without the times a store was made and migrated, and with its sequences.
func state(t *testing.T, c *pgx.Conn, schema string) string {
	t.Helper()
	var b strings.Builder
	for _, line := range strings.Split(dump(t, c, schema), "\n") {
		if !strings.HasPrefix(line, "strata_store:") && !strings.HasPrefix(line, "schema_version:") {
			b.WriteString(line + "\n")
		}
	}
	var versions int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM `+schema+`.schema_version`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	rows, err := c.Query(t.Context(), `SELECT sequencename || ' ' || coalesce(last_value::text, 'unused') FROM pg_sequences
		WHERE schemaname = $1 ORDER BY 1`, schema)
	if err != nil {
		t.Fatal(err)
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "migrations: %d\nsequences: %s\n", versions, strings.Join(seqs, ", "))
	return b.String()
}

package postgres

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
	"github.com/strata-dev/strata/internal/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// lockKey returns an advisory lock key for what within the store's schema, so that stores in
// different schemas of one database never wait for each other.
func lockKey(schema, what string) int64 {
	h := fnv.New64a()
	h.Write([]byte("strata\x00" + schema + "\x00" + what))
	return int64(h.Sum64())
}

// migrate reads the schema's state, refusing a foreign or newer one before writing anything,
// then applies every migration the store lacks, each in its own transaction that records it
// in schema_version. A session advisory lock makes processes that open a new store at once
// migrate one after another; each re-reads the version inside its transaction, so a
// migration runs once.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := sqlstore.Migrations(migrations, "migrations")
	if err != nil {
		return err
	}
	pc, err := db.b.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer pc.Release()
	c := pc.Conn()
	if db.current(ctx, c, ms) {
		return nil
	}

	var schema *string
	if err := c.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return err
	}
	if schema == nil {
		return strata.Errorf(strata.EINVALID, "%s: no schema of the search_path (%s) exists; create it (CREATE SCHEMA ...) or name another with search_path=",
			db.name, db.searchPath)
	}
	db.schema = *schema
	v, recorded, err := db.schemaState(ctx, c)
	if err != nil {
		return err
	}
	if v >= latest(ms) && recorded >= applicable(ms) {
		// The common case: every command of the CLI opens the store. Nothing to wait for.
		// (A store at the newest version may still lack a lower-numbered migration that
		// landed after the newest: then it is not the common case.)
		return nil
	}

	key := lockKey(db.schema, "migrate")
	if _, err := c.Exec(ctx, `SELECT pg_advisory_lock($1)`, key); err != nil {
		return fmt.Errorf("wait for other processes migrating: %w", err)
	}
	defer c.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, key)

	for _, m := range ms {
		if m.Version > strata.SchemaVersion {
			break
		}
		err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
			v, err := db.schemaVersion(ctx, tx)
			if err != nil {
				return err
			}
			if v >= m.Version {
				// A migration numbered below one the store holds is applied all the same
				// when it is not recorded: migrations written side by side land in any
				// order, and a store migrated in between must not miss the lower one.
				var have bool
				err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_version WHERE version = $1)`, m.Version).Scan(&have)
				if err != nil || have {
					return err
				}
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return fmt.Errorf("apply migration %s: %w", m.Name, err)
			}
			_, err = tx.Exec(ctx, `INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)`,
				m.Version, sqlrow.Nanos(db.now()))
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// current reports whether the store's schema is a Strata store this binary needs not
// migrate, reading it (and the audit log's head, which it keeps in db.head) in one round
// trip: every command of the CLI opens the store, and on a server each statement is a
// round trip, its first use on a connection two (it is prepared). The statements go as
// one simple query, which prepares nothing; they hold no value from outside. Anything else
// (a new schema, a foreign one, one to migrate, an error) reports false, and migrate reads
// the schema again the careful way, with its messages.
func (db *DB) current(ctx context.Context, c *pgx.Conn, ms []sqlrow.Migration) bool {
	q := `SELECT current_schema(),
		(SELECT count(*) FROM pg_catalog.pg_class c
		WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = current_schema())
		AND c.relname IN ('strata_store', 'schema_version') AND c.relkind = 'r');
		SELECT coalesce(max(version), 0), count(*) FILTER (WHERE version <= ` + strconv.Itoa(strata.SchemaVersion) + `) FROM schema_version;
		SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1`
	rs, err := c.PgConn().Exec(ctx, q).ReadAll()
	if err != nil || len(rs) != 3 || len(rs[0].Rows) != 1 || len(rs[1].Rows) != 1 {
		return false
	}
	schema, tables := rs[0].Rows[0][0], string(rs[0].Rows[0][1])
	v, verr := strconv.Atoi(string(rs[1].Rows[0][0]))
	recorded, rerr := strconv.Atoi(string(rs[1].Rows[0][1]))
	if schema == nil || tables != "2" || verr != nil || rerr != nil ||
		v > strata.SchemaVersion || v < latest(ms) || recorded < applicable(ms) {
		return false
	}
	head := &sqlstore.Head{}
	if len(rs[2].Rows) == 1 {
		seq, err := strconv.ParseInt(string(rs[2].Rows[0][0]), 10, 64)
		if err != nil {
			return false
		}
		head.Seq, head.Hash = seq, string(rs[2].Rows[0][1])
	}
	db.schema, db.head = string(schema), head
	return true
}

// applicable returns how many of ms this binary applies.
func applicable(ms []sqlrow.Migration) int {
	n := 0
	for _, m := range ms {
		if m.Version <= strata.SchemaVersion {
			n++
		}
	}
	return n
}

// latest returns the newest of ms this binary applies.
func latest(ms []sqlrow.Migration) int {
	v := 0
	for _, m := range ms {
		if m.Version <= strata.SchemaVersion {
			v = max(v, m.Version)
		}
	}
	return v
}

// querier is a connection or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion returns the newest migration applied to the store's schema, 0 for an empty
// schema. EINVALID when the schema holds tables but is not a Strata store, or a newer
// Strata wrote it.
func (db *DB) schemaVersion(ctx context.Context, q querier) (int, error) {
	v, _, err := db.schemaState(ctx, q)
	return v, err
}

// schemaState is schemaVersion, and how many of the migrations this binary knows the schema
// records, read in the same round trip.
func (db *DB) schemaState(ctx context.Context, q querier) (v, recorded int, err error) {
	var tables, marker, versions int
	// The catalog, not information_schema, whose views join and check privileges on every
	// relation of the database: 20-60 ms a query on a server holding a few hundred schemas.
	// Views and foreign tables count as tables, as they would there.
	err = q.QueryRow(ctx, `SELECT count(*),
		count(*) FILTER (WHERE c.relname = 'strata_store'),
		count(*) FILTER (WHERE c.relname = 'schema_version')
		FROM pg_catalog.pg_class c
		WHERE c.relnamespace = (SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname = current_schema())
		AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`).Scan(&tables, &marker, &versions)
	if err != nil {
		return 0, 0, fmt.Errorf("read schema: %w", err)
	}
	if tables == 0 {
		return 0, 0, nil
	}
	if marker == 0 || versions == 0 {
		return 0, 0, strata.Errorf(strata.EINVALID, "%s (schema %s) is not a Strata store: it holds other tables; name an empty schema with search_path=",
			db.name, db.schema)
	}
	if err := q.QueryRow(ctx, `SELECT coalesce(max(version), 0), count(*) FILTER (WHERE version <= $1) FROM schema_version`, strata.SchemaVersion).Scan(&v, &recorded); err != nil {
		return 0, 0, fmt.Errorf("read schema version: %w", err)
	}
	if v > strata.SchemaVersion {
		return 0, 0, strata.Errorf(strata.EINVALID, "%s (schema %s) was written by a newer Strata (schema %d, this binary reads up to %d); upgrade strata",
			db.name, db.schema, v, strata.SchemaVersion)
	}
	return v, recorded, nil
}

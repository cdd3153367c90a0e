package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/sqlrow"
)

// Bundles are kept in the database (migration 0009) as their tar stream in chunks of
// chunkSize bytes, written as the stream arrives and read back one chunk at a time: neither
// way holds more than a chunk of a bundle in memory. Each chunk commits on its own, under
// the upload's id: a slow client holds no transaction open (which would keep PostgreSQL
// from vacuuming the deployments' rows while it lasts), and the bundle is recorded, naming
// its upload, in one short transaction once its digest was checked.

// chunkSize is the most bytes of a bundle one row holds.
const chunkSize = 1 << 20

// staleUpload is how old an upload that no bundle names must be before a put removes it:
// none takes that long, so it was refused or cut off by a crash.
const staleUpload = 24 * time.Hour

var _ strata.BundleStore = (*DB)(nil)

// PutBundle writes the stream's chunks as it reads them, checking the digest as they pass,
// and records the bundle once it matched; a stream that does not match leaves nothing.
func (db *DB) PutBundle(ctx context.Context, digest string, r io.Reader) (*strata.BundleInfo, error) {
	info, err := db.Bundle(ctx, digest)
	if err == nil || strata.ErrorCode(err) != strata.ENOTFOUND {
		return info, err
	}
	var id [12]byte
	rand.Read(id[:])
	upload := hex.EncodeToString(id[:])
	now := db.now()
	pool := db.b.pool
	if _, err := pool.Exec(ctx, `DELETE FROM bundle_uploads u WHERE started_at < $1 AND NOT EXISTS (SELECT 1 FROM bundles b WHERE b.upload = u.id)`,
		sqlrow.Nanos(now.Add(-staleUpload))); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO bundle_uploads (id, started_at) VALUES ($1, $2)`, upload, sqlrow.Nanos(now)); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	kept := false
	defer func() {
		if !kept { // refused, failed, or another upload of the digest won: ours goes
			_, _ = pool.Exec(context.WithoutCancel(ctx), `DELETE FROM bundle_uploads WHERE id = $1`, upload)
		}
	}()
	w := &chunkWriter{ctx: ctx, db: db, upload: upload, buf: make([]byte, 0, chunkSize)}
	arts, recipe, err := strata.ScanBundle(io.TeeReader(r, w), nil)
	if w.err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, w.err)
	}
	if err != nil {
		return nil, err
	}
	if got := strata.BundleDigest(arts, recipe); got != digest {
		return nil, strata.MismatchedBundle(digest, got)
	}
	if err := w.flush(); err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	info = &strata.BundleInfo{Digest: digest, Artifacts: arts, Recipe: recipe, Size: w.size, CreatedAt: sqlrow.FromNanos(db.now().UnixNano())}
	tag, err := pool.Exec(ctx, `INSERT INTO bundles (digest, upload, artifacts, recipe, size, chunks, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (digest) DO NOTHING`, digest, upload, arts, recipe, w.size, w.seq, sqlrow.Nanos(info.CreatedAt))
	if err != nil {
		return nil, fmt.Errorf("keep bundle %s: %w", digest, err)
	}
	if tag.RowsAffected() == 0 {
		return db.Bundle(ctx, digest) // another upload of the same bundle was recorded first
	}
	kept = true
	return info, nil
}

// chunkWriter cuts what is written into chunks and inserts each as it fills.
type chunkWriter struct {
	ctx    context.Context
	db     *DB
	upload string
	buf    []byte
	seq    int
	size   int64
	err    error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), chunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == chunkSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// flush inserts the buffered chunk, if any.
func (w *chunkWriter) flush() error {
	if w.err != nil || len(w.buf) == 0 {
		return w.err
	}
	_, err := w.db.b.pool.Exec(w.ctx, `INSERT INTO bundle_chunks (upload, seq, data) VALUES ($1, $2, $3)`, w.upload, w.seq, w.buf)
	if err != nil {
		w.err = err
		return err
	}
	w.seq++
	w.size += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Bundle reads the bundle's row.
func (db *DB) Bundle(ctx context.Context, digest string) (*strata.BundleInfo, error) {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return nil, err
	}
	row := db.b.pool.QueryRow(ctx, `SELECT digest, artifacts, recipe, size, created_at FROM bundles WHERE digest = $1`, digest)
	info, err := scanBundle(row)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no bundle %s in the store", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("read bundle %s: %w", digest, err)
	}
	return info, nil
}

func scanBundle(row pgx.Row) (*strata.BundleInfo, error) {
	var info strata.BundleInfo
	var at int64
	if err := row.Scan(&info.Digest, &info.Artifacts, &info.Recipe, &info.Size, &at); err != nil {
		return nil, err
	}
	info.CreatedAt = sqlrow.FromNanos(at)
	return &info, nil
}

// OpenBundle returns a reader that fetches the bundle's chunks one at a time, in order.
func (db *DB) OpenBundle(ctx context.Context, digest string) (io.ReadCloser, error) {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return nil, err
	}
	var upload string
	var chunks int
	err := db.b.pool.QueryRow(ctx, `SELECT upload, chunks FROM bundles WHERE digest = $1`, digest).Scan(&upload, &chunks)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, strata.Errorf(strata.ENOTFOUND, "no bundle %s in the store", digest)
	}
	if err != nil {
		return nil, fmt.Errorf("open bundle %s: %w", digest, err)
	}
	return &chunkReader{ctx: ctx, db: db, digest: digest, upload: upload, chunks: chunks}, nil
}

// chunkReader reads a bundle's chunks in order, one query each.
type chunkReader struct {
	ctx    context.Context
	db     *DB
	digest string
	upload string
	chunks int
	next   int
	buf    []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.next >= r.chunks {
			return 0, io.EOF
		}
		err := r.db.b.pool.QueryRow(r.ctx, `SELECT data FROM bundle_chunks WHERE upload = $1 AND seq = $2`, r.upload, r.next).Scan(&r.buf)
		if errors.Is(err, pgx.ErrNoRows) {
			return 0, fmt.Errorf("read bundle %s: chunk %d of %d is missing (the bundle was removed while it was read)", r.digest, r.next, r.chunks)
		}
		if err != nil {
			return 0, fmt.Errorf("read bundle %s: %w", r.digest, err)
		}
		r.next++
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func (r *chunkReader) Close() error { return nil }

// Bundles lists the bundles' rows by digest.
func (db *DB) Bundles(ctx context.Context) ([]*strata.BundleInfo, error) {
	rows, err := db.b.pool.Query(ctx, `SELECT digest, artifacts, recipe, size, created_at FROM bundles ORDER BY digest COLLATE "C"`)
	if err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	defer rows.Close()
	var out []*strata.BundleInfo
	for rows.Next() {
		info, err := scanBundle(rows)
		if err != nil {
			return nil, fmt.Errorf("list bundles: %w", err)
		}
		out = append(out, info)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list bundles: %w", err)
	}
	return out, nil
}

// DeleteBundle removes the bundle's row, its upload and so its chunks, in one transaction.
func (db *DB) DeleteBundle(ctx context.Context, digest string) error {
	if err := strata.CheckDigest("bundle digest", digest); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, db.b.pool, func(tx pgx.Tx) error {
		var upload string
		err := tx.QueryRow(ctx, `DELETE FROM bundles WHERE digest = $1 RETURNING upload`, digest).Scan(&upload)
		if errors.Is(err, pgx.ErrNoRows) {
			return strata.Errorf(strata.ENOTFOUND, "no bundle %s in the store", digest)
		}
		if err != nil {
			return fmt.Errorf("delete bundle %s: %w", digest, err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM bundle_uploads WHERE id = $1`, upload); err != nil {
			return fmt.Errorf("delete bundle %s: %w", digest, err)
		}
		return nil
	})
}

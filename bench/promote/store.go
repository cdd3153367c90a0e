package main

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/strata-dev/strata/bench/harness"

	_ "modernc.org/sqlite" // registers the "sqlite" driver, to checkpoint the store
)

// storeSize checkpoints the SQLite store at db (PRAGMA wal_checkpoint(TRUNCATE), so what
// the WAL held is in the main file) and returns the size of the file plus its WAL.
func storeSize(db string) (int64, error) {
	conn, err := sql.Open("sqlite", "file:"+(&url.URL{Path: db}).EscapedPath()+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", db, err)
	}
	_, err = conn.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	if cerr := conn.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", db, err)
	}
	var total int64
	for _, p := range []string{db, db + "-wal"} {
		fi, err := os.Stat(p)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("size of store: %w", err)
		}
		total += fi.Size()
	}
	return total, nil
}

// xargsWaves is the baseline with strata's wave barriers: one xargs per wave of size
// commands, p at a time, each wave after the one before has ended.
func xargsWaves(dir string, n, size, p int) (harness.Sample, error) {
	var script strings.Builder
	for left := n; left > 0; left -= size {
		fmt.Fprintf(&script, "printf '%s' | xargs -P %d -L 1 sh -c\n", strings.Repeat(`true\n`, min(size, left)), p)
	}
	s, _, err := harness.Timed(dir, nil, "sh", "-c", script.String())
	return s, err
}

package postgres_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-dev/strata/internal/syncbuf"
	"github.com/strata-dev/strata/postgres"
)

// listener listens on db until the test ends, counting the words it hears (and its starts).
type listener struct {
	n    atomic.Int64
	done chan error
}

func listen(t *testing.T, db *postgres.DB) *listener {
	t.Helper()
	l := &listener{done: make(chan error, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { l.done <- db.ListenQueues(ctx, func() { l.n.Add(1) }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-l.done; err != nil {
			t.Errorf("listen: %v", err)
		}
	})
	return l
}

// heard waits until l has heard at least n words in all.
func (l *listener) heard(t *testing.T, what string, n int64) {
	t.Helper()
	waitUntil(t, what, func() bool { return l.n.Load() >= n })
}

// waitUntil polls cond until it holds, failing t after 30 seconds (the bound of a hung
// test, not a measure of speed).
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting until %s", what)
}

func TestQueuesWakeTheListenersOfTheirSchemaOnly(t *testing.T) {
	t.Parallel()
	_, u := schema(t)
	listening, waking := open(t, u), open(t, u)
	_, other := schema(t)
	elsewhere := open(t, other)

	l, o := listen(t, listening), listen(t, elsewhere)
	l.heard(t, "the listener listens (its first word)", 1)
	o.heard(t, "the other schema's listener listens", 1)
	if err := waking.WakeQueues(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.heard(t, "the listener hears the other store's word", 2)
	// A word on its own schema, sent after the first was committed, comes after it: when
	// it is heard, the first word would have been too.
	if err := elsewhere.WakeQueues(t.Context()); err != nil {
		t.Fatal(err)
	}
	o.heard(t, "the other schema's listener hears its own word", 2)
	if got := o.n.Load(); got != 2 {
		t.Errorf("the other schema's listener heard %d words, want 2 (its start and its own word)", got)
	}
	if got := l.n.Load(); got != 2 {
		t.Errorf("the listener heard %d words, want 2 (its start and the word of its schema)", got)
	}
}

// TestAListenerWhoseConnectionIsKilledListensAgain is not parallel: it reads what the
// process logs, with a hostile password in the store's URL (the test server trusts, and
// ignores it), which never shows.
func TestAListenerWhoseConnectionIsKilledListensAgain(t *testing.T) {
	name, u := schema(t)
	const hostile = `pw'"; $(touch /tmp/pwned) --\x00`
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	user := ""
	if p.User != nil {
		user = p.User.Username()
	}
	p.User = url.UserPassword(user, hostile)
	var logged syncbuf.Buffer
	was := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logged, nil)))
	t.Cleanup(func() { slog.SetDefault(was) })
	listening, waking := open(t, p.String()), open(t, u)
	l := listen(t, listening)
	l.heard(t, "the listener listens", 1)

	c := admin(t)
	var pid int32
	query := `SELECT pid FROM pg_stat_activity WHERE query = 'LISTEN "' || $1 || '"'`
	if err := c.QueryRow(t.Context(), query, postgres.QueueChannel(name)).Scan(&pid); err != nil {
		t.Fatalf("find the listening connection: %v", err)
	}
	var killed bool
	if err := c.QueryRow(t.Context(), `SELECT pg_terminate_backend($1)`, pid).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the listening connection %d: %v, %v", pid, killed, err)
	}
	l.heard(t, "the listener is woken once it listens again", 2)
	if err := waking.WakeQueues(t.Context()); err != nil {
		t.Fatal(err)
	}
	l.heard(t, "the listener hears the next word", 3)
	if !strings.Contains(logged.String(), "connecting again") {
		t.Errorf("the lost connection was not logged: %q", logged.String())
	}
	if strings.Contains(logged.String(), "touch /tmp/pwned") || strings.Contains(logged.String(), "pw'") {
		t.Errorf("the log shows the password: %q", logged.String())
	}
}

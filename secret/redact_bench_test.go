package secret_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/strata-dev/strata/secret"
)

// benchLog is step output of the usual kind: log lines, now and then a secret.
var benchLog = []byte(strings.Repeat("2026-11-23T19:00:00Z info deploying api to staging: migrations applied, 12 rows\n", 99) +
	"2026-11-23T19:00:00Z info connecting to postgres://app:Sup3r-S3cret@db:5432/app\n")

var benchSecrets = []string{"Sup3r-S3cret", "postgres://app:Sup3r-S3cret@db:5432/app", "ghp_0123456789abcdef", "hunter2", "AKIAIOSFODNN7EXAMPLE"}

// BenchmarkRedactor measures a Redactor in front of io.Discard against io.Copy to
// io.Discard, the cost of moving the same bytes with no redaction.
func BenchmarkRedactor(b *testing.B) {
	b.Run("baseline io.Copy to io.Discard", func(b *testing.B) {
		b.SetBytes(int64(len(benchLog)))
		for b.Loop() {
			io.Copy(io.Discard, bytes.NewReader(benchLog))
		}
	})
	b.Run("redactor with 5 secrets", func(b *testing.B) {
		r := secret.NewRedactor(io.Discard, benchSecrets)
		b.SetBytes(int64(len(benchLog)))
		for b.Loop() {
			io.Copy(r, bytes.NewReader(benchLog))
		}
		r.Flush()
	})
}

package secret_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/strata-dev/strata/secret"
)

var redactCases = []struct {
	name    string
	secrets []string
	in      string
	want    string
}{
	{"a secret is masked", []string{"hunter2"}, "password=hunter2\n", "password=***\n"},
	{"every occurrence is masked", []string{"tok"}, "tok tok\ntok", "*** ***\n***"},
	{"text without secrets is unchanged", []string{"hunter2"}, "nothing to see", "nothing to see"},
	{"no secrets change nothing", nil, "hunter2", "hunter2"},
	{"an empty secret is ignored", []string{"", "pw"}, "a pw b", "a *** b"},
	{"a one-byte secret is masked too", []string{"7"}, "port 7070", "port ***0***0"},
	{"a secret at the very end is masked", []string{"s3cr3t"}, "key s3cr3t", "key ***"},
	{"a secret that is a prefix of another yields to the longer one", []string{"abc", "abcdef"}, "abcdef abc abcde", "*** *** ***de"},
	{"a secret inside another yields to the longer one", []string{"cd", "abcdef"}, "abcdef cd", "*** ***"},
	{"overlapping secrets mask the leftmost match first", []string{"abc", "cde"}, "abcde", "***de"},
	{"repeated prefixes are found", []string{"aab"}, "aaab aab", "a*** ***"},
	{"adjacent secrets are each masked", []string{"xy"}, "xyxyx", "******x"},
	{"duplicate secrets are one", []string{"k", "k"}, "k", "***"},
	{"multibyte secrets are masked whole", []string{"pässwörd"}, "=pässwörd=", "=***="},
	{"newlines inside a secret are matched", []string{"line1\nline2"}, "line1\nline2\n", "***\n"},
}

func TestRedact(t *testing.T) {
	for _, tt := range redactCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := secret.Redact(tt.in, tt.secrets); got != tt.want {
				t.Errorf("Redact(%q): got %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestRedactorMasksSecretsSplitAtEveryByte(t *testing.T) {
	for _, tt := range redactCases {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i <= len(tt.in); i++ {
				for j := i; j <= len(tt.in); j++ {
					var out bytes.Buffer
					r := secret.NewRedactor(&out, tt.secrets)
					for _, part := range []string{tt.in[:i], tt.in[i:j], tt.in[j:]} {
						n, err := r.Write([]byte(part))
						if err != nil || n != len(part) {
							t.Fatalf("Write(%q) = %d, %v", part, n, err)
						}
					}
					if err := r.Flush(); err != nil {
						t.Fatal(err)
					}
					if got := out.String(); got != tt.want {
						t.Fatalf("split at %d and %d: got %q, want %q", i, j, got, tt.want)
					}
				}
			}
		})
	}
}

func TestRedactorOneByteAtATime(t *testing.T) {
	secrets := []string{"postgres://u:pw@db/app", "pw", "tok-123"}
	in := strings.Repeat("connect postgres://u:pw@db/app with tok-123; pw=pw\n", 50)
	var out bytes.Buffer
	r := secret.NewRedactor(&out, secrets)
	for i := range len(in) {
		if _, err := r.Write([]byte{in[i]}); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	want := strings.Repeat("connect *** with ***; ***=***\n", 50)
	if got := out.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRedactorHoldsOnlyWhatCouldBeginASecret(t *testing.T) {
	var out bytes.Buffer
	r := secret.NewRedactor(&out, []string{"hunter2"})
	r.Write([]byte("log line\nuser hun"))
	if got, want := out.String(), "log line\nuser "; got != want {
		t.Errorf("before the rest: got %q, want %q", got, want)
	}
	r.Write([]byte("gry\n"))
	if got, want := out.String(), "log line\nuser hungry\n"; got != want {
		t.Errorf("once it cannot be a secret: got %q, want %q", got, want)
	}
	r.Write([]byte("pw hunter"))
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, want := out.String(), "log line\nuser hungry\npw hunter"; got != want {
		t.Errorf("after Flush: got %q, want %q", got, want)
	}
}

func TestConcurrentWritersNeverLeakASecret(t *testing.T) {
	var out bytes.Buffer
	r := secret.NewRedactor(&out, []string{"s3cr3t-value"})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				fmt.Fprintf(r, "writer %d line %d s3cr3t-value\n", w, i)
			}
		})
	}
	wg.Wait()
	if err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if strings.Contains(got, "s3cr3t") {
		t.Error("a secret leaked")
	}
	if n := strings.Count(got, "***\n"); n != 8*200 {
		t.Errorf("got %d masked lines, want %d", n, 8*200)
	}
}

type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestRedactorReturnsTheWritersError(t *testing.T) {
	r := secret.NewRedactor(errWriter{}, []string{"x"})
	if _, err := r.Write([]byte("hello")); err != io.ErrClosedPipe {
		t.Errorf("got %v, want %v", err, io.ErrClosedPipe)
	}
}

func FuzzRedactorMatchesRedact(f *testing.F) {
	f.Add("abcdef abc abcde", "abc", "abcdef", uint64(1))
	f.Add("aaab aab aaaa", "aab", "aa", uint64(7))
	f.Add("xyxyxyx", "xyx", "y", uint64(42))
	f.Fuzz(func(t *testing.T, in, s1, s2 string, seed uint64) {
		secrets := []string{s1, s2}
		want := secret.Redact(in, secrets)
		rng := rand.New(rand.NewPCG(seed, seed>>1))
		var out bytes.Buffer
		r := secret.NewRedactor(&out, secrets)
		for rest := in; len(rest) > 0; {
			n := rng.IntN(len(rest) + 1)
			if _, err := r.Write([]byte(rest[:n])); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := r.Flush(); err != nil {
			t.Fatal(err)
		}
		if got := out.String(); got != want {
			t.Errorf("secrets %q, input %q: streamed %q, whole %q", secrets, in, got, want)
		}
		// Output is plain input bytes and masks, so only a secret made partly of '*' can
		// appear in it.
		for _, s := range secrets {
			if s != "" && !strings.Contains(s, "*") && strings.Contains(want, s) {
				t.Errorf("secret %q survives in %q", s, want)
			}
		}
	})
}

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

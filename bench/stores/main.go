// Command stores measures the same promotion on the two stores in one run: `strata promote
// noop@1 --to all --parallel 8` through a fresh estate of 200 (or -envs) environments, once
// on the embedded SQLite file and once on PostgreSQL (a fresh schema), taking turns going
// first; then a second release through the same estate ("again"). It reports PostgreSQL's
// time as a ratio of SQLite's (issue 15, point 2: the target is within 1.2x).
//
// With -against OLD it also runs OLD, a second strata binary, the same way in every run,
// and reports each binary's times as ratios of OLD's: how a change moved each store, on a
// machine whose speed drifts.
//
// With -count, after the timed runs each binary promotes once more on PostgreSQL through a
// proxy that counts (proxy.go): round trips per environment, connections, and the CPU time
// of the server processes, which the timed runs' CPU (the strata process and its steps)
// leaves out. Those promotions are not timed: the hop adds to every round trip.
//
//	go run ./bench/stores [-envs 200] [-parallel 8] [-runs 5] [-strata PATH] [-against PATH]
//	    [-count] [-postgres postgres://postgres@127.0.0.1:5432/test]
//
// Without -strata it builds cmd/strata first (run it inside the module).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/strata-dev/strata/bench/harness"
)

// options are the command's flags.
type options struct {
	harness.Flags
	against  string
	postgres string
	only     string // "" for both stores, or "sqlite" or "postgres"
	count    bool
}

func main() {
	var o options
	o.Declare(flag.CommandLine, 200, 8, 5)
	flag.StringVar(&o.against, "against", "", "a second strata binary to run the same way, the baseline of the ratios between binaries")
	flag.StringVar(&o.postgres, "postgres", defaultServer(), "PostgreSQL server (a schema is made and dropped per run)")
	flag.StringVar(&o.only, "only", "", "measure one store only (sqlite or postgres), with -against")
	flag.BoolVar(&o.count, "count", false, "then promote once more on PostgreSQL through a proxy, counting round trips and the server's CPU")
	flag.Parse()
	if _, err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/stores:", err)
		os.Exit(1)
	}
}

// defaultServer is $STRATA_TEST_POSTGRES, or the server the tests use.
func defaultServer() string {
	if u := os.Getenv("STRATA_TEST_POSTGRES"); u != "" && u != "off" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
}

// case_ is one binary on one store, and its samples.
type case_ struct {
	name         string
	bin, store   string // store "" is SQLite
	first, again []harness.Sample
	// counted is what the promotions through the counting proxy cost (-count).
	counted [2]cost
}

// cost is what one promotion cost the PostgreSQL server, counted by the proxy.
type cost struct {
	trips, conns int64
	cpu          time.Duration
}

// result holds every case's samples, in the order printed.
type result struct {
	Cases []*case_
}

// run measures o.Runs runs, printing each and then the medians and ratios to w.
func run(o options, w io.Writer) (*result, error) {
	if o.Envs < 1 || o.Parallel < 1 || o.Runs < 1 {
		return nil, fmt.Errorf("-envs, -parallel and -runs must be 1 or more")
	}
	if o.only != "" && (o.against == "" || o.only != "sqlite" && o.only != "postgres") {
		return nil, fmt.Errorf("-only wants sqlite or postgres, and -against")
	}
	work, bin, cleanup, err := o.Setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	res := &result{Cases: []*case_{{name: "sqlite", bin: bin}, {name: "postgres", bin: bin, store: "pg"}}}
	if o.against != "" {
		res.Cases = append(res.Cases, &case_{name: "sqlite (against)", bin: o.against}, &case_{name: "postgres (against)", bin: o.against, store: "pg"})
	}
	cases := res.Cases
	if o.only != "" {
		cases = slices.DeleteFunc(slices.Clone(cases), func(c *case_) bool { return (c.store == "") != (o.only == "sqlite") })
	}
	fmt.Fprintf(w, "stores: %d environments, --parallel %d, %d run(s), %d CPU(s), load %s\n", o.Envs, o.Parallel, o.Runs, harness.NumCPU(), harness.LoadAvg())
	for i := range o.Runs {
		// Each case in turn, starting one further along every run, so that none always
		// meets the machine as another left it.
		for k := range cases {
			c := cases[(i+k)%len(cases)]
			first, again, err := promoteTwice(o, filepath.Join(work, fmt.Sprintf("run-%d-%d", i, k)), c, nil)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", c.name, err)
			}
			c.first, c.again = append(c.first, first), append(c.again, again)
		}
		fmt.Fprintf(w, "run %d:", i+1)
		for _, c := range cases {
			fmt.Fprintf(w, " %s %s / %s;", c.name, c.first[i].Wall.Round(time.Millisecond), c.again[i].Wall.Round(time.Millisecond))
		}
		fmt.Fprintln(w)
	}
	for _, c := range cases {
		fmt.Fprintf(w, "median %s: %s, again %s\n", c.name, harness.Median(c.first), harness.Median(c.again))
	}
	ratios := func(label string, a, b *case_) {
		fmt.Fprintf(w, "%s: %.2f, again %.2f (median of the runs' own ratios: %.2f, again %.2f)\n", label,
			harness.Ratio(harness.Median(a.first).Wall, harness.Median(b.first).Wall), harness.Ratio(harness.Median(a.again).Wall, harness.Median(b.again).Wall),
			harness.RunsOwn(a.first, b.first), harness.RunsOwn(a.again, b.again))
	}
	if o.only == "" {
		ratios("postgres/sqlite", res.Cases[1], res.Cases[0])
	}
	if o.count {
		if err := count(o, work, cases, w); err != nil {
			return nil, err
		}
	}
	if o.against != "" {
		if o.only == "" {
			ratios("postgres/sqlite (against)", res.Cases[3], res.Cases[2])
		}
		if o.only != "postgres" {
			ratios("sqlite: strata/against", res.Cases[0], res.Cases[2])
		}
		if o.only != "sqlite" {
			ratios("postgres: strata/against", res.Cases[1], res.Cases[3])
		}
	}
	return res, nil
}

// count promotes once more with each PostgreSQL case of cases, through a counting proxy,
// and reports what each promotion cost the server.
func count(o options, work string, cases []*case_, w io.Writer) error {
	cnt, err := newCounter(o.postgres)
	if err != nil {
		return err
	}
	defer cnt.close()
	for _, c := range cases {
		if c.store == "" {
			continue
		}
		if _, _, err := promoteTwice(o, filepath.Join(work, "count-"+strings.ReplaceAll(c.name, " ", "-")), c, cnt); err != nil {
			return fmt.Errorf("%s, counted: %w", c.name, err)
		}
		for i, label := range []string{"fresh", "again"} {
			k := c.counted[i]
			fmt.Fprintf(w, "counted %s, %s: %d round trips (%.2f per environment), %d connection(s), server CPU %s (%s per environment)\n",
				c.name, label, k.trips, float64(k.trips)/float64(o.Envs), k.conns, k.cpu, k.cpu/time.Duration(o.Envs))
		}
	}
	return nil
}

// promoteTwice makes a fresh estate in dir (and a fresh schema for PostgreSQL), releases
// noop 1 and times its promotion, then the same for noop 2. With cnt, PostgreSQL is
// reached through it, and what each promotion cost is kept in c.counted.
func promoteTwice(o options, dir string, c *case_, cnt *counter) (first, again harness.Sample, err error) {
	if err := harness.WriteEstate(dir, o.Envs, 0); err != nil {
		return first, again, err
	}
	var store []string
	if c.store != "" {
		u, drop, err := freshSchema(o.postgres, o.Keep)
		if err != nil {
			return first, again, err
		}
		defer drop()
		if cnt != nil {
			if u, err = cnt.through(u); err != nil {
				return first, again, err
			}
		}
		store = []string{"--store", u}
	}
	for i, v := range []string{"1", "2"} {
		if _, err := harness.StrataRun(c.bin, dir, append([]string{"release", "noop", "--version", v}, store...)...); err != nil {
			return first, again, err
		}
		if cnt != nil {
			cnt.reset()
		}
		s, out, err := harness.Timed(dir, nil, c.bin, append([]string{"promote", "noop@" + v, "--to", "all", "--parallel", fmt.Sprint(o.Parallel)}, store...)...)
		if err == nil {
			err = harness.CheckSucceeded(out, o.Envs)
		}
		if err != nil {
			return first, again, err
		}
		if cnt != nil && c.store != "" {
			k := &c.counted[i]
			k.trips, k.conns, k.cpu = cnt.counts()
		}
		if i == 0 {
			first = s
		} else {
			again = s
		}
	}
	return first, again, nil
}

// redacted is base with its password masked, for errors: a URL that cannot be read is
// not shown at all (its password could be anywhere in it).
func redacted(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return "(the -postgres URL)"
	}
	return u.Redacted()
}

// freshSchema makes an empty schema on the server at base and returns the URL that names
// it, and a function that drops it (unless keep).
func freshSchema(base string, keep bool) (string, func(), error) {
	var b [6]byte
	rand.Read(b[:])
	name := "strata_bench_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, fmt.Errorf("connect to %s: %w", redacted(base), err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, `CREATE SCHEMA `+name); err != nil {
		return "", nil, fmt.Errorf("create schema: %w", err)
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, fmt.Errorf("read the server's URL %s: it is not a URL", redacted(base))
	}
	q := u.Query()
	q.Set("search_path", name)
	u.RawQuery = q.Encode()
	drop := func() {
		if keep {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if c, err := pgx.Connect(ctx, base); err == nil {
			c.Exec(ctx, `DROP SCHEMA `+name+` CASCADE`)
			c.Close(ctx)
		}
	}
	return u.String(), drop, nil
}

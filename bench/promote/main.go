// Command promote measures one release promoted through a stage of 500 environments in
// waves of 25 (issue 4, point 7): the orchestration time per environment beyond the steps
// themselves (strata's wall time minus xargs running the same no-op steps with the same
// concurrency, divided by the number of environments), and the store's growth per
// deployment (state.db plus its WAL, each checkpointed, after minus before, divided by the
// number of deployments). Each run gets a fresh estate; strata and xargs take turns going
// first; then a second release goes through the same estate ("again"). bench/README.md keeps
// the figures.
//
//	go run ./bench/promote [-envs 500] [-waves 25] [-parallel 8] [-runs 3] [-strata PATH]
//
// Without -strata it builds cmd/strata first (run it inside the module).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/strata-dev/strata/bench/harness"
)

// options are the command's flags.
type options struct {
	harness.Flags
	waves int
}

func main() {
	var o options
	o.Declare(flag.CommandLine, 500, 8, 3)
	flag.IntVar(&o.waves, "waves", 25, "environments per wave (the stage's waves: N)")
	flag.Parse()
	if _, err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/promote:", err)
		os.Exit(1)
	}
}

// result holds every run's samples and store growth.
type result struct {
	Strata, Xargs, XargsWaves []harness.Sample
	// Again is a second release promoted through the same estate.
	Again []harness.Sample
	// Growth is the store's growth in bytes per deployment, one per run.
	Growth []float64
}

// run measures o.Runs runs, printing each and then the medians to w.
func run(o options, w io.Writer) (*result, error) {
	if o.Envs < 1 || o.waves < 1 || o.Parallel < 1 || o.Runs < 1 {
		return nil, fmt.Errorf("-envs, -waves, -parallel and -runs must be 1 or more")
	}
	work, bin, cleanup, err := o.Setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	nWaves := (o.Envs + o.waves - 1) / o.waves
	fmt.Fprintf(w, "promote: %d environments in %d wave(s) of %d, --parallel %d, %d run(s), %d CPU(s), load %s\n",
		o.Envs, nWaves, o.waves, o.Parallel, o.Runs, harness.NumCPU(), harness.LoadAvg())
	res := &result{}
	for i := range o.Runs {
		dir := filepath.Join(work, fmt.Sprintf("run-%d", i))
		if err := harness.WriteEstate(dir, o.Envs, o.waves); err != nil {
			return nil, err
		}
		if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "1"); err != nil {
			return nil, err
		}
		db := filepath.Join(dir, ".strata", "state.db")
		before, err := storeSize(db)
		if err != nil {
			return nil, err
		}
		promote := func() (harness.Sample, error) { return harness.Promote(bin, dir, "1", o.Parallel, o.Envs) }
		xargs := func() (harness.Sample, error) { return harness.XargsTrue(dir, o.Envs, o.Parallel) }
		s, x, err := harness.InTurn(i, promote, xargs)
		if err != nil {
			return nil, err
		}
		xw, err := xargsWaves(dir, o.Envs, o.waves, o.Parallel)
		if err != nil {
			return nil, err
		}
		after, err := storeSize(db)
		if err != nil {
			return nil, err
		}
		growth := float64(after-before) / float64(o.Envs)
		// The same estate again: a second release, once every environment has been deployed
		// to (its scratch files exist, the history holds a deployment per environment).
		if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "2"); err != nil {
			return nil, err
		}
		again, err := harness.Promote(bin, dir, "2", o.Parallel, o.Envs)
		if err != nil {
			return nil, err
		}
		res.Strata, res.Xargs, res.XargsWaves = append(res.Strata, s), append(res.Xargs, x), append(res.XargsWaves, xw)
		res.Again, res.Growth = append(res.Again, again), append(res.Growth, growth)
		fmt.Fprintf(w, "run %d: strata %s, strata again %s, xargs %s, xargs in waves %s; store %d -> %d bytes (%.0f bytes per deployment)\n",
			i+1, s, again, x, xw, before, after, growth)
	}
	ms, ma, mx, mw := harness.Median(res.Strata), harness.Median(res.Again), harness.Median(res.Xargs), harness.Median(res.XargsWaves)
	fmt.Fprintf(w, "median: strata %s, strata again %s, xargs %s, xargs in waves %s\n", ms, ma, mx, mw)
	fmt.Fprintf(w, "orchestration per environment: %s beyond xargs, %s beyond xargs in waves (cpu %s beyond xargs)\n",
		harness.PerEnv(ms.Wall-mx.Wall, o.Envs), harness.PerEnv(ms.Wall-mw.Wall, o.Envs), harness.PerEnv(ms.CPU-mx.CPU, o.Envs))
	fmt.Fprintf(w, "orchestration per environment, again: %s beyond xargs, %s beyond xargs in waves (cpu %s beyond xargs)\n",
		harness.PerEnv(ma.Wall-mx.Wall, o.Envs), harness.PerEnv(ma.Wall-mw.Wall, o.Envs), harness.PerEnv(ma.CPU-mx.CPU, o.Envs))
	fmt.Fprintf(w, "store growth per deployment: %.0f bytes (median of %d run(s))\n", harness.Mid(slices.Clone(res.Growth)), len(res.Growth))
	return res, nil
}

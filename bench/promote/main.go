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

	"github.com/strata-dev/strata/bench/harness"
)

// options are the command's flags.
type options struct {
	strata   string
	envs     int
	waves    int
	parallel int
	runs     int
	work     string
	keep     bool
}

func main() {
	var o options
	flag.StringVar(&o.strata, "strata", "", "strata binary to measure (default: build ./cmd/strata)")
	flag.IntVar(&o.envs, "envs", 500, "environments in the stage")
	flag.IntVar(&o.waves, "waves", 25, "environments per wave (the stage's waves: N)")
	flag.IntVar(&o.parallel, "parallel", 8, "deployments at once within a wave (strata --parallel, xargs -P)")
	flag.IntVar(&o.runs, "runs", 3, "runs; the medians are reported")
	flag.StringVar(&o.work, "work", "", "directory for the estates (default: a new temporary one)")
	flag.BoolVar(&o.keep, "keep", false, "keep the estates afterwards")
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

// run measures o.runs runs, printing each and then the medians to w.
func run(o options, w io.Writer) (*result, error) {
	if o.envs < 1 || o.waves < 1 || o.parallel < 1 || o.runs < 1 {
		return nil, fmt.Errorf("-envs, -waves, -parallel and -runs must be 1 or more")
	}
	work, cleanup, err := harness.WorkDir(o.work, o.keep)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	bin, err := harness.Strata(o.strata, work)
	if err != nil {
		return nil, err
	}
	nWaves := (o.envs + o.waves - 1) / o.waves
	fmt.Fprintf(w, "promote: %d environments in %d wave(s) of %d, --parallel %d, %d run(s), %d CPU(s), load %s\n",
		o.envs, nWaves, o.waves, o.parallel, o.runs, harness.NumCPU(), harness.LoadAvg())
	res := &result{}
	for i := range o.runs {
		dir := filepath.Join(work, fmt.Sprintf("run-%d", i))
		if err := harness.WriteEstate(dir, o.envs, o.waves); err != nil {
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
		promote := func() (harness.Sample, error) { return harness.Promote(bin, dir, "1", o.parallel, o.envs) }
		xargs := func() (harness.Sample, error) { return harness.XargsTrue(dir, o.envs, o.parallel) }
		s, x, err := harness.InTurn(i, promote, xargs)
		if err != nil {
			return nil, err
		}
		xw, err := xargsWaves(dir, o.envs, o.waves, o.parallel)
		if err != nil {
			return nil, err
		}
		after, err := storeSize(db)
		if err != nil {
			return nil, err
		}
		growth := float64(after-before) / float64(o.envs)
		// The same estate again: a second release, once every environment has been deployed
		// to (its scratch files exist, the history holds a deployment per environment).
		if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "2"); err != nil {
			return nil, err
		}
		again, err := harness.Promote(bin, dir, "2", o.parallel, o.envs)
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
		harness.PerEnv(ms.Wall-mx.Wall, o.envs), harness.PerEnv(ms.Wall-mw.Wall, o.envs), harness.PerEnv(ms.CPU-mx.CPU, o.envs))
	fmt.Fprintf(w, "orchestration per environment, again: %s beyond xargs, %s beyond xargs in waves (cpu %s beyond xargs)\n",
		harness.PerEnv(ma.Wall-mx.Wall, o.envs), harness.PerEnv(ma.Wall-mw.Wall, o.envs), harness.PerEnv(ma.CPU-mx.CPU, o.envs))
	fmt.Fprintf(w, "store growth per deployment: %.0f bytes (median of %d run(s))\n", midFloat(res.Growth), len(res.Growth))
	return res, nil
}

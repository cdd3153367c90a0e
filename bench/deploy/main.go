// Command deploy measures one `strata promote` deploying a no-op release to 200 environments
// against xargs running the same 200 no-op commands with the same concurrency (issue 3,
// point 11). Each run gets a fresh estate; xargs runs before and after strata, so both see
// the same load. It prints every run and the medians; bench/README.md keeps the figures.
//
//	go run ./bench/deploy [-envs 200] [-parallel 8] [-runs 5] [-strata PATH]
//
// Without -strata it builds cmd/strata first (run it inside the module).
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-dev/strata/bench/harness"
)

// options are the command's flags.
type options struct {
	harness.Flags
}

func main() {
	var o options
	o.Declare(flag.CommandLine, 200, 8, 5)
	flag.Parse()
	if _, err := run(o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench/deploy:", err)
		os.Exit(1)
	}
}

// result holds every run's samples.
type result struct {
	First, Again, Xargs []harness.Sample
}

// run measures o.Runs runs, printing each and then the medians to w.
func run(o options, w io.Writer) (*result, error) {
	if o.Envs < 1 || o.Parallel < 1 || o.Runs < 1 {
		return nil, fmt.Errorf("-envs, -parallel and -runs must be 1 or more")
	}
	work, bin, cleanup, err := o.Setup()
	if err != nil {
		return nil, err
	}
	defer cleanup()
	fmt.Fprintf(w, "deploy: %d environments, --parallel %d, %d run(s), %d CPU(s), load %s\n", o.Envs, o.Parallel, o.Runs, harness.NumCPU(), harness.LoadAvg())
	res := &result{}
	var perFirst, perAgain []float64
	for i := range o.Runs {
		dir := filepath.Join(work, fmt.Sprintf("run-%d", i))
		if err := harness.WriteEstate(dir, o.Envs, 0); err != nil {
			return nil, err
		}
		if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "1"); err != nil {
			return nil, err
		}
		// xargs runs before and after the two promotions and the baseline is the mean of
		// the two, so that a machine that speeds up or slows down during a run (other
		// virtual machines sharing its cores) moves both sides alike.
		before, err := harness.XargsTrue(dir, o.Envs, o.Parallel)
		if err != nil {
			return nil, err
		}
		first, err := harness.Promote(bin, dir, "1", o.Parallel, o.Envs)
		if err != nil {
			return nil, err
		}
		// The same estate again: a second release, so the per-pair scratch files exist and
		// the history holds a deployment per environment already.
		if _, err := harness.StrataRun(bin, dir, "release", "noop", "--version", "2"); err != nil {
			return nil, err
		}
		again, err := harness.Promote(bin, dir, "2", o.Parallel, o.Envs)
		if err != nil {
			return nil, err
		}
		after, err := harness.XargsTrue(dir, o.Envs, o.Parallel)
		if err != nil {
			return nil, err
		}
		x := harness.Sample{Wall: (before.Wall + after.Wall) / 2, CPU: (before.CPU + after.CPU) / 2}
		res.First, res.Again, res.Xargs = append(res.First, first), append(res.Again, again), append(res.Xargs, x)
		perFirst, perAgain = append(perFirst, harness.Ratio(first.Wall, x.Wall)), append(perAgain, harness.Ratio(again.Wall, x.Wall))
		fmt.Fprintf(w, "run %d: strata %s, strata again %s, xargs %s (%s before, %s after): ratios %.2f, %.2f\n",
			i+1, first, again, x, before.Wall.Round(time.Millisecond), after.Wall.Round(time.Millisecond), perFirst[i], perAgain[i])
	}
	mf, ma, mx := harness.Median(res.First), harness.Median(res.Again), harness.Median(res.Xargs)
	fmt.Fprintf(w, "median: strata %s, strata again %s, xargs %s\n", mf, ma, mx)
	fmt.Fprintf(w, "ratio (wall): strata/xargs %.2f, strata again/xargs %.2f\n", harness.Ratio(mf.Wall, mx.Wall), harness.Ratio(ma.Wall, mx.Wall))
	fmt.Fprintf(w, "ratio (wall), median of the runs' own ratios: %.2f, again %.2f\n", harness.Mid(perFirst), harness.Mid(perAgain))
	fmt.Fprintf(w, "ratio (cpu): strata/xargs %.2f, strata again/xargs %.2f\n", harness.Ratio(mf.CPU, mx.CPU), harness.Ratio(ma.CPU, mx.CPU))
	fmt.Fprintf(w, "per environment beyond xargs: %s, again %s\n", harness.PerEnv(mf.Wall-mx.Wall, o.Envs), harness.PerEnv(ma.Wall-mx.Wall, o.Envs))
	return res, nil
}

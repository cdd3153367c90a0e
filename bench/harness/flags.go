package harness

import "flag"

// Flags are the flags every benchmark command has, declared once (Declare); a command adds
// its own beside them.
type Flags struct {
	// Strata is the binary to measure ("" builds ./cmd/strata).
	Strata string
	// Envs is how many environments a run promotes or deploys to, Parallel how many
	// deployments run at once, Runs how many runs are made (their medians are reported).
	Envs, Parallel, Runs int
	// Work is where the estates go ("" a new temporary directory); Keep keeps them.
	Work string
	Keep bool
}

// Declare declares the common flags on fs with the command's defaults.
func (f *Flags) Declare(fs *flag.FlagSet, envs, parallel, runs int) {
	fs.StringVar(&f.Strata, "strata", "", "strata binary to measure (default: build ./cmd/strata)")
	fs.IntVar(&f.Envs, "envs", envs, "environments a run promotes or deploys to")
	fs.IntVar(&f.Parallel, "parallel", parallel, "deployments at once (strata --parallel; xargs -P for a baseline)")
	fs.IntVar(&f.Runs, "runs", runs, "runs; the medians are reported")
	fs.StringVar(&f.Work, "work", "", "directory for the estates (default: a new temporary one)")
	fs.BoolVar(&f.Keep, "keep", false, "keep what the runs made (the estates; on PostgreSQL, the schemas) afterwards")
}

// Setup makes the directory the estates go in and the binary to measure (Strata, else one
// built there); cleanup removes the directory unless it was given or Keep is set.
func (f *Flags) Setup() (work, bin string, cleanup func(), err error) {
	work, cleanup, err = WorkDir(f.Work, f.Keep)
	if err != nil {
		return "", "", nil, err
	}
	if bin, err = Strata(f.Strata, work); err != nil {
		cleanup()
		return "", "", nil, err
	}
	return work, bin, cleanup, nil
}

package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
)

// EnvRetireRequest is POST /api/v1/environments/{name}/retire: `env retire NAME`.
type EnvRetireRequest struct {
	Name string `json:"-" path:"name"`
}

// Retired is the document of `env retire`: the environment, the services whose destroy step
// ran there, who retired it and when.
type Retired struct {
	Name      string    `json:"name"`
	Destroyed []string  `json:"destroyed"`
	By        string    `json:"by"`
	At        time.Time `json:"at"`
}

// RetireEnv destroys what still runs in an environment strata.yaml no longer has and records
// it retired, as e's actor.
func RetireEnv(ctx context.Context, e *engine.Engine, req EnvRetireRequest) (*Retired, error) {
	if req.Name == "" {
		return nil, strata.Errorf(strata.EINVALID, "env retire needs the NAME of an environment removed from strata.yaml")
	}
	r, err := e.RetireEnvironment(ctx, req.Name)
	if err != nil {
		return nil, err
	}
	return &Retired{Name: r.Name, Destroyed: r.Services, By: r.By, At: r.At.UTC()}, nil
}

// WriteText prints what was retired.
func (r *Retired) WriteText(w io.Writer) {
	what := "nothing to destroy"
	if len(r.Destroyed) > 0 {
		what = "destroyed " + strings.Join(r.Destroyed, ", ")
	}
	fmt.Fprintf(w, "%s retired (%s); its history stays readable: `strata history --env %s`\n", r.Name, what, r.Name)
}

// needGoneEnv checks that env names an environment of p, or one that is gone from it but
// whose history stays readable (retired, destroyed, or an orphan).
func needGoneEnv(ctx context.Context, e *engine.Engine, env string) error {
	err := NeedEnv(e.Project, env)
	if err == nil || env == "" {
		return err
	}
	if gone, rerr := e.IsRetired(ctx, env); rerr == nil && gone {
		return nil
	}
	if orphan, oerr := e.IsOrphan(ctx, env); oerr == nil && orphan {
		return nil
	}
	return err
}

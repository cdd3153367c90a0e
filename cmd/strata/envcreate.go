package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
)

func (a *app) envCreateCommand() *cobra.Command {
	var like, ttl string
	var labels []string
	c := &cobra.Command{
		Use:   "create NAME --like ENV [--ttl 24h] [--label k=v ...]",
		Short: "Make a short-lived environment like a declared one (config, labels, policy inherited)",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if like == "" {
				return strata.Errorf(strata.EINVALID, "--like is required: name the declared environment to copy, e.g. --like staging")
			}
			env := &strata.EphemeralEnv{Name: args[0], Like: like}
			if ttl != "" {
				d, err := parseTTL(ttl)
				if err != nil {
					return err
				}
				env.Expires = a.now().Add(d).UTC()
			}
			for _, l := range labels {
				k, v, ok := strings.Cut(l, "=")
				if !ok || k == "" {
					return strata.Errorf(strata.EINVALID, "--label %q: want k=v, e.g. --label owner=alice", l)
				}
				if env.Labels == nil {
					env.Labels = map[string]string{}
				}
				env.Labels[k] = v
			}
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if err := e.CreateEnvironment(cmd.Context(), env); err != nil {
				return err
			}
			doc := ephemeralDoc(env)
			return a.print(doc, func(w io.Writer) {
				fmt.Fprintf(w, "created %s like %s", env.Name, env.Like)
				if len(env.Labels) > 0 {
					fmt.Fprintf(w, ", labels %s", formatLabels(env.Labels))
				}
				fmt.Fprintf(w, ", %s\n", expiry(a.now(), env.Expires))
				fmt.Fprintf(w, "deploy to it with `strata deploy SERVICE --env %s`; remove it with `strata env destroy %s`\n", env.Name, env.Name)
			})
		},
	}
	c.Flags().StringVar(&like, "like", "", "the declared environment it is made like (required)")
	c.Flags().StringVar(&ttl, "ttl", "", `time to live, e.g. "24h", "30m" or "7d"; resume destroys it after (default: none)`)
	c.Flags().StringArrayVar(&labels, "label", nil, "a label k=v laid over the parent's (repeatable)")
	return c
}

// ephemeralDoc is the JSON of `env create`.
func ephemeralDoc(env *strata.EphemeralEnv) map[string]any {
	labels := env.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return map[string]any{
		"name": env.Name, "like": env.Like, "labels": labels, "expires": timePtr(env.Expires),
		"created_by": env.CreatedBy, "created_at": timePtr(env.CreatedAt),
	}
}

// parseTTL reads a Go duration, or a whole number of days ("7d").
func parseTTL(s string) (time.Duration, error) {
	bad := strata.Errorf(strata.EINVALID, `--ttl %q: want a positive duration such as "24h", "30m" or "7d"`, s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 {
			return 0, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, bad
	}
	return d, nil
}

// expiry says when a short-lived environment expires, for people.
func expiry(now, t time.Time) string {
	switch {
	case t.IsZero():
		return "no expiry"
	case !now.Before(t):
		return "expired at " + t.UTC().Format(time.RFC3339) + " (`strata resume` destroys it)"
	default:
		return "expires " + t.UTC().Format(time.RFC3339) + " (in " + until(now, t) + ")"
	}
}

func (a *app) envDestroyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "destroy NAME",
		Short: "Run the destroy steps of a short-lived environment (reverse dependency order) and forget it",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			done, err := e.DestroyEnvironment(cmd.Context(), args[0])
			if done == nil {
				done = []string{}
			}
			doc := map[string]any{"name": args[0], "destroyed": done, "forgotten": err == nil}
			if err != nil && strata.ErrorCode(err) != strata.EFAILED && strata.ErrorCode(err) != strata.EINTERNAL {
				return err // refused before anything ran
			}
			if err != nil {
				return &resultError{err: err, doc: doc}
			}
			return a.print(doc, func(w io.Writer) {
				what := "no destroy steps ran"
				if len(done) > 0 {
					what = "destroyed " + strings.Join(done, ", ")
				}
				fmt.Fprintf(w, "%s: %s; environment forgotten\n", args[0], what)
			})
		},
	}
}

// shortExpiry says when a short-lived environment expires, for a table cell.
func shortExpiry(now, t time.Time) string {
	if !now.Before(t) {
		return "expired " + t.UTC().Format("2006-01-02 15:04Z")
	}
	return t.UTC().Format("2006-01-02 15:04Z") + " (in " + until(now, t) + ")"
}

// envExpiry marks a short-lived environment in the status matrix.
func envExpiry(now, t time.Time) string {
	switch {
	case t.IsZero():
		return "short-lived"
	case !now.Before(t):
		return "expired"
	default:
		return "expires in " + until(now, t)
	}
}

// until says how long from now to t, coarsely ("23h", "5m", "40s").
func until(now, t time.Time) string {
	d := t.Sub(now)
	switch {
	case d >= time.Hour:
		d = d.Round(time.Hour)
	case d >= time.Minute:
		d = d.Round(time.Minute)
	default:
		d = d.Round(time.Second)
	}
	return strata.Duration(d).String()
}

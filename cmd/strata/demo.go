package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/examples"
	"github.com/strata-dev/strata/plan"
	"github.com/strata-dev/strata/report"
	"github.com/strata-dev/strata/secret"
)

func (a *app) demoCommand() *cobra.Command {
	var keep string
	var hold time.Duration
	c := &cobra.Command{
		Use:   "demo",
		Short: "Run the example shop end to end on loopback",
		Long: `demo copies the example shop (examples/shop) into a temporary directory, builds its
services once, lets the releases land in dev and staging by themselves, promotes them to the
three production environments behind an approval by a second person, shows the status
matrix and the URLs to open, and stops every process it started when it ends.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runDemo(cmd.Context(), keep, hold)
		},
	}
	c.Flags().StringVar(&keep, "dir", "", "run the estate in this directory (kept afterwards) instead of a temporary one")
	c.Flags().DurationVar(&hold, "hold", 0, "keep the services running this long before stopping them (default: until Enter on a terminal, else stop at once)")
	return c
}

func (a *app) runDemo(ctx context.Context, keep string, hold time.Duration) error {
	dir := keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "strata-demo-")
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	if err := examples.CopyShop(dir); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	a.dir, a.project = dir, nil
	say := func(format string, args ...any) {
		if !a.json() {
			fmt.Fprintf(a.stdout, format+"\n", args...)
		}
	}
	say("== the shop estate, copied to %s", dir)
	alice, err := a.engine(ctx)
	if err != nil {
		return err
	}
	alice.Actor = "alice"
	defer a.stopDemo(alice)
	if err := demoSecrets(alice, filepath.Join(dir, ".strata", "keys"), say); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	var version = "1.0.0"
	say("\n== alice releases every service once (%s); each lands in dev, then staging, by itself", version)
	for _, svc := range alice.Project.DependencyOrder(nil) {
		if _, err := alice.Release(ctx, svc.Name, version); err != nil {
			return fmt.Errorf("demo: release %s: %w", svc.Name, err)
		}
	}
	bob := *alice
	bob.Actor = "bob"
	bob.Log = alice.Log
	var results []*engine.PromotionResult
	for _, svc := range alice.Project.DependencyOrder(nil) {
		say("\n== alice asks to promote %s@%s to prod", svc.Name, version)
		res, err := alice.Promote(ctx, engine.PromoteRequest{Service: svc.Name, Version: version, To: "prod"})
		if res != nil && !a.json() {
			report.NewPromotion(res).WriteText(a.stdout)
		}
		if strata.ErrorCode(err) == strata.EBLOCKED && res != nil {
			say("\n== bob approves %s; the promotion runs wave by wave", res.Promotion.ID)
			res, err = bob.Approve(ctx, res.Promotion.ID)
			res, err = waitForGates(ctx, &bob, res, err, say)
		}
		if err != nil {
			return fmt.Errorf("demo: promote %s: %w", svc.Name, err)
		}
		results = append(results, res)
	}
	say("\n== status")
	if err := a.status(ctx); err != nil {
		return err
	}
	cur, err := alice.Current(ctx)
	if err != nil {
		return err
	}
	say("\n== open these")
	for _, env := range alice.Project.Environments {
		for _, svc := range alice.Project.Services {
			if d := cur[pairFrom([2]string{svc.Name, env.Name})]; d != nil && d.Outputs["URL"] != "" {
				say("  %-8s %-5s %s", env.Name, svc.Name, d.Outputs["URL"])
			}
		}
	}
	if a.json() {
		var docs []*report.Promotion
		for _, r := range results {
			docs = append(docs, report.NewPromotion(r))
		}
		return a.writeJSON(map[string]any{"dir": dir, "promotions": docs})
	}
	a.holdDemo(ctx, hold)
	return nil
}

// demoSecrets gives every environment its own key pair, in a key directory inside the demo's
// state directory, and a random value for each secret key, as `strata secret keygen` and
// `strata secret set` would; e then reads its secrets from there.
func demoSecrets(e *engine.Engine, keys string, say func(string, ...any)) error {
	v := &secret.Vault{ProjectDir: e.Project.Dir, Project: e.Project.Name, KeyDir: keys}
	var names []string
	for _, s := range e.Project.Services {
		for _, k := range s.Schema {
			if k.Secret && k.From == "" && !slices.Contains(names, k.Name) {
				names = append(names, k.Name)
			}
		}
	}
	if len(names) == 0 {
		return nil
	}
	say("\n== every environment gets its own key pair and a random %s (strata secret keygen/set)", strings.Join(names, ", "))
	for _, env := range e.Project.Environments {
		if _, err := v.Keygen(env.Name, false); err != nil {
			return err
		}
		for _, k := range names {
			b := make([]byte, 16)
			rand.Read(b)
			if _, err := v.Set(env.Name, k, hex.EncodeToString(b), e.Actor); err != nil {
				return err
			}
		}
	}
	e.Secrets, e.ServiceSecrets = nil, func(p *strata.Project, service, env string) (map[string]string, error) {
		return (&secret.Loader{Project: p, KeyDir: keys}).LoadService(service, env)
	}
	return nil
}

// holdDemo keeps the services up for hold, or until Enter when stdin is a terminal.
func (a *app) holdDemo(ctx context.Context, hold time.Duration) {
	if hold > 0 {
		fmt.Fprintf(a.stdout, "\nthe services stay up for %s (Ctrl-C stops them sooner)\n", hold)
		select {
		case <-ctx.Done():
		case <-time.After(hold):
		}
		return
	}
	f, ok := a.stdin.(*os.File)
	if !ok {
		return
	}
	if info, err := f.Stat(); err != nil || info.Mode()&os.ModeCharDevice == 0 {
		return
	}
	fmt.Fprintln(a.stdout, "\npress Enter (or Ctrl-C) to stop every process the demo started")
	done := make(chan struct{})
	go func() {
		bufio.NewReader(f).ReadString('\n')
		close(done)
	}()
	select {
	case <-ctx.Done():
	case <-done:
	}
}

// stopDemo runs every environment's destroy steps, so no process outlives the demo.
func (a *app) stopDemo(e *engine.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var w io.Writer = a.stdout
	if a.json() {
		w = a.stderr
	}
	fmt.Fprintln(w, "\n== stopping what the demo started")
	for _, env := range e.Project.Environments {
		if _, err := e.Destroy(ctx, env.Name); err != nil {
			fmt.Fprintf(a.stderr, "strata: demo: %v\n", err)
		}
	}
}

// waitForGates re-judges a waiting promotion every second until its gates open (the soak
// time staging must hold passes), as `strata resume` or the scheduler would.
func waitForGates(ctx context.Context, e *engine.Engine, res *engine.PromotionResult, err error, say func(string, ...any)) (*engine.PromotionResult, error) {
	told := false
	for strata.ErrorCode(err) == strata.EBLOCKED && res != nil {
		if !told {
			for _, g := range plan.Closed(res.Gates) {
				say("   still waiting on %s: %s", g.Name, g.Detail)
			}
			told = true
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-time.After(time.Second):
		}
		res, err = e.Advance(ctx, res.Promotion.ID)
	}
	return res, err
}

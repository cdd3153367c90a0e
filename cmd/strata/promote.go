package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/plan"
)

func (a *app) promoteCommand() *cobra.Command {
	var req engine.PromoteRequest
	var parallel int
	c := &cobra.Command{
		Use:   "promote SERVICE[@VERSION] [--to STAGE]",
		Short: "Ask to move a release into the next (or named) stage; it runs when every gate holds",
		Args:  exactArgs(1, "one SERVICE[@VERSION]"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if e.Parallel, err = checkParallel(parallel); err != nil {
				return err
			}
			req.Service, req.Version = splitRef(args[0])
			res, err := e.Promote(cmd.Context(), req)
			return a.promotionResult(res, err)
		},
	}
	c.Flags().StringVar(&req.To, "to", "", "stage (default: the next stage the release has not reached)")
	c.Flags().BoolVar(&req.OverrideWindow, "override-window", false, "open closed deploy windows (recorded in the audit log; needs --reason)")
	c.Flags().StringVar(&req.Reason, "reason", "", "why the window is overridden")
	parallelFlag(c, &parallel)
	return c
}

// parallelFlag adds --parallel to c: how many environments of a wave deploy at once.
func parallelFlag(c *cobra.Command, n *int) {
	c.Flags().IntVar(n, "parallel", 4, "deploy at most N environments of a wave at once")
}

// checkParallel returns n when it is a usable --parallel value.
func checkParallel(n int) (int, error) {
	if n < 1 {
		return 0, strata.Errorf(strata.EINVALID, "--parallel %d: want 1 or more environments at once", n)
	}
	return n, nil
}

// promotionResult prints a promotion as `promote`, `approve` and `plan` do.
func (a *app) promotionResult(res *engine.PromotionResult, err error) error {
	if res == nil {
		return err
	}
	doc := promotionDoc(res)
	if err != nil {
		return &resultError{err: err, doc: doc, text: func(w io.Writer) { printPromotion(w, res) }}
	}
	return a.print(doc, func(w io.Writer) { printPromotion(w, res) })
}

func printPromotion(w io.Writer, res *engine.PromotionResult) {
	for _, r := range res.Chain() {
		p := r.Promotion
		id := p.ID
		if id == "" {
			id = "(plan)"
		}
		fmt.Fprintf(w, "promotion %s: %s@%s to %s: %s\n", id, p.Service, p.Version, p.Stage, p.State)
		for _, g := range r.Gates {
			mark := "✓"
			if !g.OK {
				mark = "✗"
			}
			fmt.Fprintf(w, "  %s %-14s %s\n", mark, g.Name, g.Detail)
		}
		var waves []string
		for _, wv := range r.Waves {
			waves = append(waves, "["+strings.Join(wv, ", ")+"]")
		}
		fmt.Fprintf(w, "  waves: %s\n", strings.Join(waves, " then "))
		for _, d := range r.Deployments {
			fmt.Fprintf(w, "  %s %s: %s\n", d.ID, d.Environment, d.State)
		}
	}
}

func promotionDoc(r *engine.PromotionResult) map[string]any {
	p := r.Promotion
	gates := r.Gates
	if gates == nil {
		gates = []plan.Gate{}
	}
	doc := map[string]any{
		"id": p.ID, "service": p.Service, "version": p.Version, "stage": p.Stage, "state": p.State,
		"requester": p.Requester, "approvals": p.Approvals, "gates": gates, "waves": r.Waves,
		"deployments": toDocs(r.Deployments),
	}
	if p.Error != "" {
		doc["error"] = p.Error
	}
	if p.Override {
		doc["override"] = map[string]any{"window": true, "reason": p.Reason}
	}
	if r.Next != nil {
		doc["next"] = promotionDoc(r.Next)
	}
	return doc
}

func (a *app) approveCommand() *cobra.Command {
	var parallel int
	c := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a waiting promotion; it runs here when that opens its last gate",
		Args:  exactArgs(1, "one promotion ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			if e.Parallel, err = checkParallel(parallel); err != nil {
				return err
			}
			res, err := e.Approve(cmd.Context(), args[0])
			return a.promotionResult(res, err)
		},
	}
	parallelFlag(c, &parallel)
	return c
}

func (a *app) rejectCommand() *cobra.Command {
	var reason string
	c := &cobra.Command{
		Use:   "reject ID --reason R",
		Short: "Reject a waiting promotion",
		Args:  exactArgs(1, "one promotion ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			e, err := a.engine(cmd.Context())
			if err != nil {
				return err
			}
			p, err := e.Reject(cmd.Context(), args[0], reason)
			if err != nil {
				return err
			}
			return a.promotionResult(&engine.PromotionResult{Promotion: p}, nil)
		},
	}
	c.Flags().StringVar(&reason, "reason", "", "why (required; recorded in the audit log)")
	return c
}

package main

import (
	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/report"
)

func (a *app) recallCommand() *cobra.Command {
	var req report.RecallRequest
	c := &cobra.Command{
		Use:   "recall SERVICE@VERSION --reason R [--rollback]",
		Short: "Mark a release bad: every promotion and deploy of it is refused",
		Args:  exactArgs(1, "one SERVICE@VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if req.Service, req.Version, err = releaseRef(args[0], "recall"); err != nil {
				return err
			}
			doc, err := invoke(cmd.Context(), a, command.Recall, req)
			return showAlways(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Reason, "reason", "", "why the release is bad (required; audited and shown with it)")
	c.Flags().BoolVar(&req.Rollback, "rollback", false, "roll back every environment that runs it, in the pipeline's waves")
	c.Flags().IntVar(&req.Parallel, "parallel", 0, "environments of a wave rolled back at once (default 4)")
	return c
}

func (a *app) unrecallCommand() *cobra.Command {
	var req report.UnrecallRequest
	c := &cobra.Command{
		Use:   "unrecall SERVICE@VERSION --reason R",
		Short: "Lift a release's recall: it may be promoted and deployed again",
		Args:  exactArgs(1, "one SERVICE@VERSION"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var err error
			if req.Service, req.Version, err = releaseRef(args[0], "unrecall"); err != nil {
				return err
			}
			doc, err := invoke(cmd.Context(), a, command.Unrecall, req)
			return show(a, doc, err, doc.WriteText)
		},
	}
	c.Flags().StringVar(&req.Reason, "reason", "", "why the release may go again (required; audited)")
	return c
}

// releaseRef reads SERVICE@VERSION, which verb needs whole: a recall names one release.
func releaseRef(ref, verb string) (string, string, error) {
	service, version := splitRef(ref)
	if service == "" || version == "" {
		return "", "", strata.Errorf(strata.EINVALID, "%s %q: want SERVICE@VERSION naming one release, e.g. `strata %s api@1.2.0 --reason R`", verb, ref, verb)
	}
	return service, version, nil
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/report"
)

// tokenCommand is `strata token create/list/revoke`: the API tokens of `strata serve`. They
// run where the store is, since whoever can read the store can make them anyway.
func (a *app) tokenCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "token",
		Short: "API tokens for strata serve: a role scoped by environment labels",
		Long: `API tokens for strata serve. A token is a principal (its name acts in the audit log) with a
role, limited to the environments its selectors match:

  viewer    reads
  deployer  reads; deploys, promotes, rolls back, releases
  approver  reads; approves and rejects promotions
  admin     everything: freezes, window overrides, tokens, secrets
  agent     a strata agent's credential: claims, runs and reports the deployments of
            the environments it covers (and their pools); nothing else, not even reads
  client    evaluates the flags of one environment over OFREP (--env), nothing else

Token commands run where the store is (not through --server).`,
		Args: exactArgs(0, "a subcommand: create, list or revoke"),
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	c.AddCommand(a.tokenCreateCommand(), a.tokenListCommand(), a.tokenRevokeCommand())
	return c
}

// tokenDoc is a token as `token list` shows it: never its secret or hash.
type tokenDoc struct {
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	Envs      []string  `json:"envs"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	Revoked   bool      `json:"revoked"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
}

func (a *app) tokenCreateCommand() *cobra.Command {
	var role, clientEnv string
	var selectors []string
	c := &cobra.Command{
		Use:   "create NAME --role viewer|deployer|approver|admin|agent [--envs SELECTOR]... | --role client --env ENV",
		Short: "Make a token and print it once (only its hash is stored)",
		// The token printed once must not be kept in a --summary file.
		Annotations: map[string]string{omitOutput: "yes"},
		Example: `  strata token create ci --role deployer --envs tier=dev --envs tier=staging
  strata token create eu-oncall --role approver --envs tier=prod,residency=eu
  strata token create eu-agent --role agent --envs region=eu-west
  strata token create checkout-web --role client --env prod-eu`,
		Args: exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !strata.ValidTokenName(name) {
				return strata.Errorf(strata.EINVALID, "token name %q: want 1 to 64 letters, digits, '.', '-', '_' or '@', starting with a letter or digit (it is the principal the audit log names)", name)
			}
			if !strata.ValidRole(role) {
				return strata.Errorf(strata.EINVALID, "--role %q: want one of %s", role, strings.Join(strata.Roles, ", "))
			}
			var envs []map[string]string
			switch {
			case role == strata.RoleClient && (clientEnv == "" || len(selectors) > 0):
				return strata.Errorf(strata.EINVALID, "a client token is bound to one environment: give --env ENV (not --envs), e.g. strata token create checkout-web --role client --env prod-eu")
			case role != strata.RoleClient && clientEnv != "":
				return strata.Errorf(strata.EINVALID, "--env binds a client token to its environment; for a %s token, scope it with --envs name=%s", role, clientEnv)
			case role == strata.RoleClient:
				p, err := a.projectWithEphemeral(cmd.Context())
				if err != nil {
					return err
				}
				if p.Environment(clientEnv) == nil {
					return report.Unknown("environment", clientEnv, p.EnvironmentNames())
				}
				envs = append(envs, map[string]string{"name": clientEnv})
			}
			for _, s := range selectors {
				sel, err := strata.ParseSelector(s)
				if err != nil {
					return fmt.Errorf("--envs: %w", err)
				}
				envs = append(envs, sel)
			}
			s, err := a.tokenStore(cmd.Context(), envs)
			if err != nil {
				return err
			}
			secret, hash := strata.NewTokenSecret()
			t := &strata.Token{Name: name, Role: role, Envs: envs, Hash: hash, CreatedBy: a.actor(), CreatedAt: a.now()}
			detail, err := json.Marshal(map[string]any{"role": role, "envs": t.Selectors()})
			if err != nil {
				return err
			}
			ev := &strata.Event{Actor: t.CreatedBy, Action: "token.create", Subject: name, Detail: detail}
			if err := s.CreateToken(cmd.Context(), t, ev); err != nil {
				return err
			}
			doc := struct {
				Name  string   `json:"name"`
				Token string   `json:"token"`
				Role  string   `json:"role"`
				Envs  []string `json:"envs"`
			}{name, secret, role, t.Selectors()}
			return a.print(doc, func(w io.Writer) {
				fmt.Fprintf(w, "token %s (%s, %s):\n\n  %s\n\n", name, role, scope(t.Selectors()), secret)
				fmt.Fprintln(w, "It is not shown again: keep it now (STRATA_TOKEN or --token). `strata token revoke "+name+"` ends it.")
			})
		},
	}
	c.Flags().StringVar(&role, "role", "", "viewer, deployer, approver, admin, agent or client (required)")
	c.Flags().StringVar(&clientEnv, "env", "", "the one environment a client token evaluates flags in (required with --role client)")
	c.Flags().StringArrayVar(&selectors, "envs", nil, "environments it covers: key=value[,key=value...] over labels (name is the environment's name); repeat for any-of; none means every environment")
	return c
}

func (a *app) tokenListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Every token, revoked ones included (never a secret)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.tokenStore(cmd.Context(), nil)
			if err != nil {
				return err
			}
			ts, err := s.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			docs := make([]tokenDoc, 0, len(ts))
			for _, t := range ts {
				docs = append(docs, tokenDoc{Name: t.Name, Role: t.Role, Envs: t.Selectors(), CreatedBy: t.CreatedBy,
					CreatedAt: t.CreatedAt, Revoked: t.Revoked(), RevokedAt: t.RevokedAt})
			}
			return a.print(docs, func(w io.Writer) {
				if len(docs) == 0 {
					fmt.Fprintln(w, "no tokens; `strata token create NAME --role ROLE` makes one")
					return
				}
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tROLE\tENVIRONMENTS\tCREATED BY\tCREATED\tSTATE")
				for _, d := range docs {
					state := "valid"
					if d.Revoked {
						state = "revoked " + d.RevokedAt.Local().Format(time.DateTime)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", d.Name, d.Role, scope(d.Envs), d.CreatedBy,
						d.CreatedAt.Local().Format(time.DateTime), state)
				}
				tw.Flush()
			})
		},
	}
}

func (a *app) tokenRevokeCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "revoke NAME",
		Short: "End a token at once",
		Args:  exactArgs(1, "one NAME"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := a.tokenStore(cmd.Context(), nil)
			if err != nil {
				return err
			}
			ev := &strata.Event{Actor: a.actor(), Action: "token.revoke", Subject: args[0]}
			if err := s.RevokeToken(cmd.Context(), args[0], ev); err != nil {
				if strata.ErrorCode(err) == strata.ENOTFOUND {
					return strata.Errorf(strata.ENOTFOUND, "no valid token is named %q (`strata token list` shows them)", args[0])
				}
				return err
			}
			return a.print(map[string]any{"name": args[0], "revoked": true}, func(w io.Writer) {
				fmt.Fprintf(w, "token %s is revoked\n", args[0])
			})
		},
	}
}

// tokenStore loads the project (so that a wrong -C is an error, not a new store somewhere)
// and opens its store (remote mode refuses token commands: see localOnly). It warns about selectors that match none of the environments.
func (a *app) tokenStore(ctx context.Context, envs []map[string]string) (strata.Store, error) {
	p, err := a.projectWithEphemeral(ctx)
	if err != nil {
		return nil, err
	}
	for _, sel := range envs {
		hit := false
		for _, env := range p.Environments {
			if strata.Matches(sel, env.Name, env.Labels) {
				hit = true
				break
			}
		}
		if !hit {
			fmt.Fprintf(a.stderr, "strata: warning: --envs %s matches none of the environments today\n", strata.FormatSelector(sel))
		}
	}
	return a.openStore(ctx)
}

// scope describes a token's selectors for people.
func scope(selectors []string) string {
	if len(selectors) == 0 {
		return "every environment"
	}
	return strings.Join(selectors, " or ")
}

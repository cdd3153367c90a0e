package main

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/agent"
	"github.com/strata-dev/strata/command"
	"github.com/strata-dev/strata/engine"
	"github.com/strata-dev/strata/report"
	"github.com/strata-dev/strata/secret"
)

// agentCommand is `strata agent`, the worker that runs the deployments of one pool inside
// an environment's network, and `strata agent list`.
func (a *app) agentCommand() *cobra.Command {
	var pool, dir, keys, name string
	var protocol int
	var maxBundle int64
	c := &cobra.Command{
		Use:   "agent --server URL [--server URL...] --token T --pool POOL [--dir WORK] [--keys DIR] [--name NAME]",
		Short: "Run the deployments of a pool of agents inside an environment's network (dials out only)",
		Long: `agent is a long-running worker for the environments whose runs_on names POOL. It dials out
to the strata serve at --server (nothing connects to it), claims the deployments of its pool
that its token (role agent, made with ` + "`strata token create NAME --role agent --envs SELECTOR`" + `)
covers, fetches each release's bundle by its digest into --dir and checks it before
anything runs, runs the deploy step and the health check with the same variables a local
run gets, sends their output (secrets redacted here, before it leaves) and reports the
outcome. It needs no checkout of the project.

The environments' secrets are opened here with the identities in --keys (the layout strata
secret keygen writes: KEYS/PROJECT/ENV.key); the server holds only their ciphertext.

While a step runs the agent renews its claim's lease; when it cannot (the server is out of
reach until the lease would lapse) it stops the step itself, and the next agent of the pool
takes the deployment over as its next attempt. A shorter network cut changes nothing.
Progress lines go to stderr, as do its logs; it stops on SIGINT or SIGTERM (a step in
flight is stopped and left to the next claim).

Several servers on one store (repeat --server, or a comma list in --server or
STRATA_SERVER): it talks to the first and, when the one it talks to stops answering, goes
on with the next, keeping the claim it runs: its lease, fence and outcome live in the store.

See docs/agents.md.`,
		Example: `  strata agent --server https://strata.example.com --token "$STRATA_TOKEN" --pool eu-agents --dir /var/lib/strata-agent --keys /etc/strata/keys
  strata agent --server https://strata-1.example.com --server https://strata-2.example.com --token "$STRATA_TOKEN" --pool eu-agents
  strata agent list`,
		Args: exactArgs(0, "no arguments (or the subcommand list)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if a.client == nil {
				return strata.Errorf(strata.EINVALID, "strata agent needs --server URL (or STRATA_SERVER): the strata serve it claims deployments from")
			}
			if a.token == "" {
				return strata.Errorf(strata.EINVALID, "strata agent needs --token (or STRATA_TOKEN): a token of role agent, made with `strata token create NAME --role agent --envs SELECTOR` where the store is")
			}
			if pool == "" {
				return strata.Errorf(strata.EINVALID, "--pool is required: the runs_on of the environments this agent serves")
			}
			if name == "" {
				host, _ := os.Hostname()
				name = agentNameFrom(host + "-" + pool)
			}
			if keys == "" {
				k, err := secret.KeyDir()
				if err != nil {
					return err
				}
				keys = k
			}
			// An agent runs one job at a time, and its goroutines mostly wait (on the
			// server, on the step's process): on more than one P the runtime wakes an idle
			// thread at each hand-off between them, which cost a tenth of an agent's CPU in
			// bench/agents. GOMAXPROCS in the environment still decides.
			if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(1)
			}
			var handler slog.Handler = slog.NewTextHandler(a.stderr, nil)
			if a.json() {
				handler = slog.NewJSONHandler(a.stderr, nil)
			}
			ag, err := agent.New(agent.Config{
				Servers: a.clients, Name: name, Pool: pool, Version: version, Protocol: protocol,
				Dir: dir, Keys: keys, Progress: a.progress(), Log: slog.New(handler), MaxBundle: maxBundle << 20,
			})
			if err != nil {
				return err
			}
			return ag.Run(cmd.Context())
		},
	}
	c.Flags().StringVar(&pool, "pool", "", "the pool it serves: the runs_on of its environments (required)")
	c.Flags().StringVar(&dir, "dir", "strata-agent", "work directory: fetched bundles (a cache, checked by digest) and where steps run")
	c.Flags().StringVar(&keys, "keys", "", "key directory holding the identities of the environments it serves (default $STRATA_KEYS, else ~/.config/strata/keys)")
	c.Flags().StringVar(&name, "name", "", "the agent's name, unique among agents (default HOST-POOL)")
	c.Flags().Int64Var(&maxBundle, "max-bundle", engine.MaxUpload>>20, "the largest bundle it fetches, in MiB")
	c.Flags().IntVar(&protocol, "protocol", strata.AgentProtocol, "the agents' protocol version to speak (for testing a server against an older agent)")
	_ = c.Flags().MarkHidden("protocol")
	c.AddCommand(a.agentListCommand())
	return c
}

// agentNameFrom makes a valid agent name of s: lower case, other characters as '-'.
func agentNameFrom(s string) string {
	s = strings.ToLower(s)
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	out := strings.Trim(b.String(), "-._")
	if len(out) > 63 {
		out = strings.Trim(out[:63], "-._")
	}
	if out == "" {
		out = "agent"
	}
	return out
}

func (a *app) agentListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The agents that registered: pool, version, connected since, last seen, what each runs",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, args []string) error {
			doc, err := invoke(cmd.Context(), a, command.Agents, command.None{})
			if err != nil {
				return err
			}
			return a.print(doc, func(w io.Writer) { report.WriteAgents(w, doc, time.Now()) })
		},
	}
}

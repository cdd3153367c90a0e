package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-dev/strata/report"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/secret"
)

// maxSecret bounds a value read from stdin.
const maxSecret = 1 << 20

func (a *app) secretCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "secret",
		Short: "Per-environment secrets: keygen, set, list, rm, rotate",
		Long: `Each environment has its own age key pair. The private identity stays outside the
repository, in $STRATA_KEYS (else $XDG_CONFIG_HOME/strata/keys, else ~/.config/strata/keys)
as PROJECT/ENV.key; the encrypted values live in secrets/ENV.age.yaml in the project, which
is safe to commit. A deployment to an environment reads that environment's identity only.`,
	}
	var force bool
	keygen := &cobra.Command{
		Use:   "keygen ENV [--force]",
		Short: "Make a new key pair for an environment",
		Args:  exactArgs(1, "one ENV"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.secretKeygen(cmd.Context(), args[0], force)
		},
	}
	keygen.Flags().BoolVar(&force, "force", false, "replace an existing key; values encrypted to it are dropped (rotate keeps them)")
	c.AddCommand(keygen,
		&cobra.Command{
			Use:   "set ENV KEY",
			Short: "Set a secret; the value is read from stdin or a prompt, never from arguments",
			Args:  exactArgs(2, "ENV and KEY (the value comes from stdin)"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.secretSet(cmd.Context(), args[0], args[1])
			},
		},
		&cobra.Command{
			Use:   "list ENV",
			Short: "The secrets of an environment: names, when set and by whom; never values",
			Args:  exactArgs(1, "one ENV"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.secretList(args[0])
			},
		},
		&cobra.Command{
			Use:   "rm ENV KEY",
			Short: "Remove a secret from an environment",
			Args:  exactArgs(2, "ENV and KEY"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.secretRemove(cmd.Context(), args[0], args[1])
			},
		},
		a.secretCheckCommand(),
		&cobra.Command{
			Use:   "rotate ENV",
			Short: "Give an environment a new key and re-encrypt every value to it",
			Args:  exactArgs(1, "one ENV"),
			RunE: func(cmd *cobra.Command, args []string) error {
				return a.secretRotate(cmd.Context(), args[0])
			},
		},
	)
	return c
}

func (a *app) secretCheckCommand() *cobra.Command {
	var env string
	c := &cobra.Command{
		Use:   "check --env ENV",
		Short: "Resolve every secret of an environment from its source, and say which fail (never values)",
		Long: `Resolves each secret key a service declares, as a deployment to ENV would on this host:
from the source environments.ENV.secrets names (sops:, vault:, exec:, inherited through
extends), else from the key's from:, else from the environment's age file. Prints each key,
its source, and ok or why it failed; exits 1 when one failed. Values are read and dropped.`,
		Args: exactArgs(0, "no arguments (name the environment with --env)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if env == "" {
				return strata.Errorf(strata.EINVALID, "secret check needs --env ENV")
			}
			p, err := a.projectWithEphemeral(cmd.Context())
			if err != nil {
				return err
			}
			checks, err := (&secret.Loader{Project: p}).Check(env)
			if err != nil {
				return err
			}
			failed := 0
			for _, c := range checks {
				if !c.OK {
					failed++
				}
			}
			doc := map[string]any{"environment": env, "keys": checks}
			if checks == nil {
				doc["keys"] = []secret.KeyCheck{}
			}
			text := func(w io.Writer) {
				for _, c := range checks {
					mark, why := "✓", "ok"
					if !c.OK {
						mark, why = "✗", c.Error
					}
					fmt.Fprintf(w, "%s %-20s %-40s %s\n", mark, c.Key, c.Source, why)
				}
				if len(checks) == 0 {
					fmt.Fprintf(w, "no service declares a secret\n")
				}
			}
			if failed > 0 {
				err := strata.Errorf(strata.EFAILED, "%d of %d secret(s) of %s did not resolve", failed, len(checks), env)
				return &resultError{err: err, doc: doc, text: text}
			}
			return a.print(doc, text)
		},
	}
	c.Flags().StringVar(&env, "env", "", "the environment whose secrets to check")
	return c
}

// vault loads the project, checks env, and returns the project's secrets.
func (a *app) vault(env string) (*strata.Project, *secret.Vault, error) {
	p, err := a.projectWithEphemeral(context.Background())
	if err != nil {
		return nil, nil, err
	}
	if p.Environment(env) == nil {
		return nil, nil, report.Unknown("environment", env, p.EnvironmentNames())
	}
	keys, err := secret.KeyDir()
	if err != nil {
		return nil, nil, err
	}
	return p, &secret.Vault{ProjectDir: p.Dir, Project: p.Name, KeyDir: keys, Now: a.now}, nil
}

// auditSecret appends one secret event; the change it records is made already.
func (a *app) auditSecret(ctx context.Context, s strata.Store, action, env string, detail map[string]any) error {
	b, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	if err := s.AppendEvent(ctx, &strata.Event{Actor: a.actor(), Action: action, Environment: env, Detail: b}); err != nil {
		return fmt.Errorf("%s in %s was done but not recorded in the audit log: %w", action, env, err)
	}
	return nil
}

func (a *app) secretKeygen(ctx context.Context, env string, force bool) error {
	_, v, err := a.vault(env)
	if err != nil {
		return err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	res, err := v.Keygen(env, force)
	if err != nil {
		return err
	}
	dropped := res.Dropped
	if dropped == nil {
		dropped = []string{}
	}
	if err := a.auditSecret(ctx, s, "secret.keygen", env, map[string]any{"recipient": res.Recipient, "force": force, "dropped": dropped}); err != nil {
		return err
	}
	doc := map[string]any{"environment": env, "recipient": res.Recipient, "key_file": res.KeyFile, "file": res.File, "dropped": dropped}
	return a.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "%s: new key pair\n  recipient  %s (recorded in %s; safe to commit)\n  identity   %s (keep it secret; deployments to %s need it)\n", env, res.Recipient, res.File, res.KeyFile, env)
		if len(dropped) > 0 {
			fmt.Fprintf(w, "  dropped    %s (encrypted to the old key; set them again)\n", strings.Join(dropped, ", "))
		}
	})
}

func (a *app) secretSet(ctx context.Context, env, key string) error {
	p, v, err := a.vault(env)
	if err != nil {
		return err
	}
	if err := settable(p, key); err != nil {
		return err
	}
	if f, err := v.Read(env); err != nil || f == nil {
		if err == nil {
			err = strata.Errorf(strata.EINVALID, "environment %s has no key yet; run `strata secret keygen %s` first", env, env)
		}
		return err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	value, err := a.readValue(ctx, env, key)
	if err != nil {
		return err
	}
	e, err := v.Set(env, key, value, a.actor())
	if err != nil {
		return err
	}
	if err := a.auditSecret(ctx, s, "secret.set", env, map[string]any{"key": key}); err != nil {
		return err
	}
	doc := map[string]any{"environment": env, "key": key, "set_at": e.SetAt, "set_by": e.SetBy}
	return a.print(doc, func(w io.Writer) { fmt.Fprintf(w, "%s: %s set\n", env, key) })
}

// settable refuses a key that no service declares `secret: true` (without `from:`), listing
// the keys that are.
func settable(p *strata.Project, key string) error {
	var keys, fromOnly []string
	var from string
	for _, s := range p.Services {
		for _, k := range s.Schema {
			switch {
			case !k.Secret:
			case k.From == "":
				if k.Name == key {
					return nil
				}
				if !slices.Contains(keys, k.Name) {
					keys = append(keys, k.Name)
				}
			case k.Name == key:
				fromOnly = append(fromOnly, s.Name)
				from = k.From
			}
		}
	}
	if len(fromOnly) > 0 {
		return strata.Errorf(strata.EINVALID, "%s is not kept in secrets files: %s declares it with from: %s; set it there", key, strings.Join(fromOnly, ", "), from)
	}
	if len(keys) == 0 {
		return strata.Errorf(strata.EINVALID, "%s is not a secret key: no service declares a config key with `secret: true`; declare it in a service's config schema first", key)
	}
	slices.Sort(keys)
	return strata.Errorf(strata.EINVALID, "%s is not a config key marked `secret: true` for any service; secret keys: %s", key, strings.Join(keys, ", "))
}

// readValue reads a secret's value: a no-echo prompt on a terminal, else all of stdin (one
// trailing newline dropped). Never from arguments, so it stays out of shell history and ps.
func (a *app) readValue(ctx context.Context, env, key string) (string, error) {
	if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
		return a.prompt(ctx, fmt.Sprintf("value of %s in %s (not shown): ", key, env))
	}
	b, err := io.ReadAll(io.LimitReader(a.stdin, maxSecret+1))
	if err != nil {
		return "", fmt.Errorf("read the value of %s from stdin: %w", key, err)
	}
	if len(b) > maxSecret {
		return "", strata.Errorf(strata.EINVALID, "the value of %s is longer than %d bytes", key, maxSecret)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
	if v == "" {
		return "", strata.Errorf(strata.EINVALID, "no value for %s on stdin; pipe it in, e.g. `printf %%s \"$VALUE\" | strata secret set %s %s`", key, env, key)
	}
	return v, nil
}

func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}

// prompt reads one line from the terminal with echo off (stty, so no terminal library is
// needed). Where echo cannot be turned off it says so, and reads the line anyway.
func (a *app) prompt(ctx context.Context, question string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", strata.Errorf(strata.EINVALID, "no terminal to prompt on (%w); pipe the value on stdin", err)
	}
	defer tty.Close()
	stty := func(arg string) error {
		c := exec.Command("stty", arg)
		c.Stdin = tty
		return c.Run()
	}
	if err := stty("-echo"); err != nil {
		fmt.Fprintf(a.stderr, "strata: warning: cannot turn off echo (%v); the value will show as you type\n", err)
	} else {
		defer stty("echo")
	}
	fmt.Fprint(tty, question)
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		s, err := bufio.NewReader(tty).ReadString('\n')
		got <- line{s, err}
	}()
	select {
	case <-ctx.Done():
		fmt.Fprintln(tty)
		return "", strata.Errorf(strata.EINVALID, "interrupted; nothing was set")
	case l := <-got:
		fmt.Fprintln(tty)
		v := strings.TrimRight(l.s, "\r\n")
		if l.err != nil && l.err != io.EOF {
			return "", fmt.Errorf("read the value: %w", l.err)
		}
		if v == "" {
			return "", strata.Errorf(strata.EINVALID, "empty value; nothing was set")
		}
		return v, nil
	}
}

// secretDoc is one line of `secret list`.
type secretDoc struct {
	Key   string    `json:"key"`
	SetAt time.Time `json:"set_at"`
	SetBy string    `json:"set_by"`
}

func (a *app) secretList(env string) error {
	p, v, err := a.vault(env)
	if err != nil {
		return err
	}
	f, err := v.Read(env)
	if err != nil {
		return err
	}
	docs := []secretDoc{}
	recipient := ""
	if f != nil {
		recipient = f.Recipient
		for _, k := range f.Keys() {
			docs = append(docs, secretDoc{Key: k, SetAt: f.Values[k].SetAt, SetBy: f.Values[k].SetBy})
		}
	}
	missing := []string{}
	for _, s := range p.Services {
		for _, k := range s.Schema {
			if k.Secret && k.From == "" && (f == nil || f.Values[k.Name] == nil) && !slices.Contains(missing, k.Name) {
				missing = append(missing, k.Name)
			}
		}
	}
	_, idErr := os.Stat(v.KeyPath(env))
	doc := map[string]any{
		"environment": env, "recipient": recipient, "file": v.FilePath(env), "key_file": v.KeyPath(env),
		"identity_here": idErr == nil, "secrets": docs, "missing": missing,
	}
	return a.print(doc, func(w io.Writer) {
		if f == nil {
			fmt.Fprintf(w, "%s has no key yet; run `strata secret keygen %s`\n", env, env)
		} else {
			fmt.Fprintf(w, "%s: recipient %s (%s)\n", env, recipient, v.FilePath(env))
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		if len(docs)+len(missing) > 0 {
			fmt.Fprintln(tw, "KEY\tSET AT\tBY")
		}
		for _, d := range docs {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Key, d.SetAt.Format(time.RFC3339), d.SetBy)
		}
		for _, k := range missing {
			fmt.Fprintf(tw, "%s\t(not set)\t-\n", k)
		}
		tw.Flush()
	})
}

func (a *app) secretRemove(ctx context.Context, env, key string) error {
	_, v, err := a.vault(env)
	if err != nil {
		return err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	if err := v.Remove(env, key); err != nil {
		return err
	}
	if err := a.auditSecret(ctx, s, "secret.rm", env, map[string]any{"key": key}); err != nil {
		return err
	}
	return a.print(map[string]any{"environment": env, "key": key, "removed": true}, func(w io.Writer) {
		fmt.Fprintf(w, "%s: %s removed\n", env, key)
	})
}

func (a *app) secretRotate(ctx context.Context, env string) error {
	_, v, err := a.vault(env)
	if err != nil {
		return err
	}
	s, err := a.openStore(ctx)
	if err != nil {
		return err
	}
	res, err := v.Rotate(env)
	if err != nil {
		return err
	}
	if err := a.auditSecret(ctx, s, "secret.rotate", env, map[string]any{"old_recipient": res.OldRecipient, "recipient": res.Recipient, "keys": res.Keys}); err != nil {
		return err
	}
	doc := map[string]any{"environment": env, "old_recipient": res.OldRecipient, "recipient": res.Recipient, "key_file": res.KeyFile, "keys": res.Keys}
	return a.print(doc, func(w io.Writer) {
		fmt.Fprintf(w, "%s: new key %s; %d value(s) re-encrypted; the old identity opens nothing now\n", env, res.Recipient, len(res.Keys))
		fmt.Fprintf(w, "  the values themselves did not change: if the old identity leaked, set them again\n")
	})
}

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/config"
	strhttp "github.com/strata-dev/strata/http"
	"github.com/strata-dev/strata/layer"
	"github.com/strata-dev/strata/telemetry"
	"go.opentelemetry.io/otel/trace"
)

// app holds what every subcommand shares: the global flags, the streams, and the project
// and store, each opened once on first use.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// next is where the list the last command answered goes on ("" when it ended there):
	// local.SetNext, or the server's X-Next-Cursor.
	next string

	dir      string
	storeURL string
	output   string
	as       string
	// server and token select remote mode (remote.go): commands run on a `strata serve`.
	// servers holds every --server given (strata agent takes several); server is them as
	// one line, for messages.
	servers       serverList
	server, token string
	// caCert is a PEM file of a CA whose server certificates the client trusts, besides the
	// system's roots (--ca-cert, $STRATA_CA_CERT).
	caCert string
	client *strhttp.Client
	// clients are a client of each server given, client the first: strata agent goes on
	// with the next when one stops answering.
	clients []*strhttp.Client

	// summaryPath is --summary's file; summary is the command's summary under way
	// (summary.go).
	summaryPath string
	summary     *summary
	// span is the command's root span when traces are exported (telemetry).
	span trace.Span

	// fullCheck makes check run every check even when an identical project passed before.
	fullCheck bool

	now     func() time.Time
	project *strata.Project
	store   strata.Store
	// batched holds progress lines back when stderr is not a terminal (progress.go).
	batched *batchedWriter
}

// run parses args, runs the command and returns the exit status. It never panics on input:
// a panic that escapes a command is reported as an internal error.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, now: time.Now}
	defer a.close()
	shutdown, err := telemetry.Setup(ctx, version)
	if err != nil {
		fmt.Fprintf(stderr, "strata: warning: traces are not exported: %v\n", err)
		shutdown = func(context.Context) error { return nil }
	}
	defer func() {
		// Flush the spans before the process ends; a collector that is down costs 5 s.
		flush, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(flush); err != nil {
			fmt.Fprintf(stderr, "strata: warning: traces: %v\n", err)
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			a.flushProgress()
			fmt.Fprintf(stderr, "strata: internal error: %v\n", r)
			code = 1
		}
	}()
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err = root.ExecuteContext(ctx)
	a.flushProgress()
	if a.span != nil {
		telemetry.End(a.span, err)
	}
	a.deliverWebhooks(ctx)
	if err == nil {
		a.endSummary(0, "")
		return 0
	}
	code = a.fail(err)
	a.endSummary(code, err.Error())
	return code
}

// cmdError marks an error that a command returned, as opposed to cobra's own usage errors.
type cmdError struct{ err error }

func (e cmdError) Error() string { return e.err.Error() }
func (e cmdError) Unwrap() error { return e.err }

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "strata",
		Short: "Declare environments, build once, promote through gates",
		Long: `Strata declares every environment in one strata.yaml, builds each service once, and
promotes that one release through dev, staging and production behind gates, with
rollback, drift detection and a tamper-evident audit log.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.output != "text" && a.output != "json" {
				return strata.Errorf(strata.EINVALID, "-o %q: want text or json", a.output)
			}
			if a.storeURL == "" {
				// Read here, not as the flag's default, so --help never prints a password.
				a.storeURL = os.Getenv("STRATA_STORE")
			}
			if err := a.setupRemote(cmd); err != nil {
				return err
			}
			if err := a.checkActor(); err != nil {
				return err
			}
			// One trace per command; a server's promotions and requests start their own.
			if cmd.Name() != "serve" {
				ctx, span := telemetry.Start(telemetry.FromEnv(cmd.Context()), cmd.CommandPath())
				cmd.SetContext(ctx)
				a.span = span
			}
			return a.startSummary(cmd, args)
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return strata.Errorf(strata.EINVALID, "%w (see `%s --help`)", err, c.CommandPath())
	})
	f := root.PersistentFlags()
	f.StringVarP(&a.dir, "dir", "C", ".", "project directory holding strata.yaml")
	f.StringVar(&a.storeURL, "store", "", "store URL (default: SQLite at DIR/.strata/state.db; postgres://... for PostgreSQL) [$STRATA_STORE]")
	f.StringVarP(&a.output, "output", "o", "text", "output format: text or json")
	f.StringVar(&a.as, "as", "", "acting principal for local commands (self-asserted) [$STRATA_ACTOR]")
	f.Var(&a.servers, "server", "URL of a strata serve to run commands on, e.g. http://127.0.0.1:7480 (strata agent: repeat it, or a comma list, for several on one store) [$STRATA_SERVER]")
	f.StringVar(&a.token, "token", "", "API token for --server, made by strata token create [$STRATA_TOKEN]")
	f.StringVar(&a.summaryPath, "summary", "", "append a Markdown summary of the command, its outcome and output to `FILE` (e.g. $GITHUB_STEP_SUMMARY)")
	f.StringVar(&a.caCert, "ca-cert", "", "PEM `FILE` of a CA whose certificates an https --server may use, besides the system's [$STRATA_CA_CERT]")

	for _, c := range []*cobra.Command{
		a.initCommand(), a.validateCommand(), a.envCommand(), a.configCommand(), a.diffCommand(),
		a.versionCommand(),
	} {
		root.AddCommand(c)
	}
	for _, c := range a.moreCommands() {
		root.AddCommand(c)
	}
	wrap(root)
	return root
}

// wrap marks the errors of every command's RunE as the command's own, so run can tell them
// from cobra's usage errors.
func wrap(c *cobra.Command) {
	if c.RunE != nil {
		inner := c.RunE
		c.RunE = func(cmd *cobra.Command, args []string) error {
			if err := inner(cmd, args); err != nil {
				return cmdError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrap(sub)
	}
}

// fail prints err and returns its exit status. Cobra's own errors (unknown command, wrong
// number of arguments) are usage errors: exit 2.
func (a *app) fail(err error) int {
	var ce cmdError
	if !errors.As(err, &ce) && strata.ErrorCode(err) == strata.EINTERNAL {
		err = strata.Errorf(strata.EINVALID, "%w (see `strata --help`)", err)
	}
	msg := err.Error()
	var res *resultError
	hasDoc := errors.As(err, &res)
	switch {
	case a.json() && hasDoc:
		_ = a.writeJSON(res.doc)
	case a.json():
		_ = a.writeJSON(map[string]any{"error": map[string]any{"code": strata.ErrorCode(err), "message": msg}})
	case hasDoc && res.text != nil:
		res.text(a.stdout)
	}
	if problemLine.MatchString(msg) {
		// Configuration problems, one "file:line:col: ..." a line, as editors and terminals
		// link them; then one line saying how many.
		n := strings.Count(msg, "\n") + 1
		fmt.Fprintf(a.stderr, "%s\nstrata: %d problem%s in the configuration; nothing was changed\n", msg, n, plural(n))
	} else {
		fmt.Fprintln(a.stderr, "strata: "+strings.ReplaceAll(msg, "\n", "\n  "))
	}
	return strata.ExitStatus(err)
}

// problemLine matches a message that starts with a configuration problem's place.
var problemLine = regexp.MustCompile(`^[^\s:]+:\d+:\d+: `)

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// resultError is an error whose command still has a document to print (a promotion that
// waits on a gate, a deployment that failed): the document goes to stdout, the error decides
// the exit status.
type resultError struct {
	err error
	doc any
	// text, when set, prints the document for a terminal (every gate of a waiting promotion).
	text func(w io.Writer)
}

func (e *resultError) Error() string { return e.err.Error() }
func (e *resultError) Unwrap() error { return e.err }

// print writes v as JSON with -o json, or calls text otherwise.
func (a *app) print(v any, text func(w io.Writer)) error {
	if a.output == "json" {
		return a.writeJSON(v)
	}
	text(a.stdout)
	return nil
}

func (a *app) writeJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// json reports whether output is machine-readable; progress then goes to stderr only.
func (a *app) json() bool { return a.output == "json" }

// actor is the acting principal: --as, else STRATA_ACTOR, else the OS user. Local identity
// is self-asserted.
func (a *app) actor() string {
	if a.as != "" {
		return a.as
	}
	if v := os.Getenv("STRATA_ACTOR"); v != "" {
		return v
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "unknown"
}

// checkActor refuses a local principal that is not one line of printable characters: it
// is written into the audit log and printed by every command that shows who did what. On a
// server the principal is the token's name, which `token create` checked.
func (a *app) checkActor() error {
	if a.client != nil {
		return nil
	}
	if err := strata.CheckLine("--as", a.as); err != nil {
		return err
	}
	if a.as == "" {
		return strata.CheckLine("STRATA_ACTOR", os.Getenv("STRATA_ACTOR"))
	}
	return nil
}

// loadProject loads and checks strata.yaml once; warnings go to stderr.
func (a *app) loadProject() (*strata.Project, error) {
	if a.project != nil {
		return a.project, nil
	}
	p, problems, err := a.check()
	for _, w := range problems.Warnings() {
		fmt.Fprintln(a.stderr, w.Error())
	}
	if err != nil {
		return nil, err
	}
	a.project = p
	return p, nil
}

// check loads the project and runs every check, returning all problems.
func (a *app) check() (*strata.Project, strata.Problems, error) {
	p, problems, err := config.Load(a.dir)
	if err != nil || p == nil {
		if err == nil {
			err = problems.Err()
		}
		return nil, problems, err
	}
	if a.checkedBefore(p) {
		return p, problems, nil
	}
	more := layer.Check(p)
	problems = append(problems, more...)
	if err := problems.Err(); err != nil {
		return nil, problems, err
	}
	if len(more) == 0 {
		a.rememberChecked(p)
	}
	return p, problems, nil
}

// The checks of every (service, environment) configuration (layer.Check) cost about half a
// second on an estate of 1,000 environments and 50 services. A check that found nothing is
// remembered in the user's cache directory under the project's digest and this binary's
// identity, and not run again until a file or the binary changes; `validate` always runs it.

// checkedPath is where the clean check of the project in a.dir is remembered: outside the
// project, so that a command that only reads writes nothing there.
func (a *app) checkedPath() string {
	dir, err := os.UserCacheDir()
	abs, err2 := filepath.Abs(a.dir)
	if err != nil || err2 != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(abs))
	return filepath.Join(dir, "strata", "checked", hex.EncodeToString(sum[:12]))
}

// checkKey names what a check depended on: the project's files and this binary.
func checkKey(p *strata.Project) string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	info, err := os.Stat(exe)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%s %s %d %d\n", p.Digest, exe, info.Size(), info.ModTime().UnixNano())
}

func (a *app) checkedBefore(p *strata.Project) bool {
	if a.fullCheck || a.checkedPath() == "" {
		return false
	}
	key := checkKey(p)
	b, err := os.ReadFile(a.checkedPath())
	return err == nil && key != "" && string(b) == key
}

// rememberChecked records a clean check; the cache is only a shortcut, so failing to write
// it is not an error.
func (a *app) rememberChecked(p *strata.Project) {
	path, key := a.checkedPath(), checkKey(p)
	if path == "" || key == "" || os.MkdirAll(filepath.Dir(path), 0o700) != nil {
		return
	}
	_ = writeFileAtomic(path, []byte(key), 0o600)
}

// stateDir is where the embedded store and artifacts live.
func (a *app) stateDir() string { return filepath.Join(a.dir, ".strata") }

func (a *app) close() {
	a.flushProgress()
	if a.store != nil {
		a.store.Close()
		a.store = nil
	}
}

// exactArgs is cobra.ExactArgs with a usage error that says what was expected.
// minArgs is exactArgs for commands that take n or more arguments.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return strata.Errorf(strata.EINVALID, "%s takes %s (got %d argument(s)); usage: %s", cmd.CommandPath(), what, len(args), cmd.UseLine())
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return strata.Errorf(strata.EINVALID, "%s takes %s (got %d argument(s)); usage: %s", cmd.CommandPath(), what, len(args), cmd.UseLine())
		}
		return nil
	}
}

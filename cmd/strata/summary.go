package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/strata-dev/strata"
	"github.com/strata-dev/strata/internal/capbuf"
)

// A summary is what --summary FILE appends to FILE when a command ends: the command, its
// outcome and its output, in Markdown, for a CI job's summary page (GitHub's
// $GITHUB_STEP_SUMMARY, a GitLab report). A job that fails on a closed gate then shows the
// gate's text where people look, not only in the log.

// summaryCap bounds the output a summary keeps: the start of a long listing says enough,
// and the file is shown on a web page.
const summaryCap = 32 << 10

// omitOutput is the annotation of a command whose output must not go into a summary file:
// it prints a credential once (token create).
const omitOutput = "strata.summary.omit-output"

// summary is a command's summary under way.
type summary struct {
	file    *os.File
	command string
	omit    bool
	out     capbuf.Buffer
}

// startSummary opens --summary's file for appending, before the command runs, so that a
// path that cannot be written is bad input (exit 2) and nothing has run; and starts keeping
// a copy of what the command prints.
func (a *app) startSummary(cmd *cobra.Command, args []string) error {
	if a.summaryPath == "" {
		return nil
	}
	f, err := os.OpenFile(a.summaryPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return strata.Errorf(strata.EINVALID, "--summary %s: %w; name a file in a directory that exists", a.summaryPath, pathCause(err))
	}
	// The command as typed, but for the global flags (--token is one).
	words := append([]string{cmd.CommandPath()}, args...)
	global := cmd.Root().PersistentFlags()
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if global.Lookup(f.Name) != nil {
			return
		}
		if sv, ok := f.Value.(pflag.SliceValue); ok {
			for _, v := range sv.GetSlice() {
				words = append(words, "--"+f.Name, v)
			}
			return
		}
		words = append(words, "--"+f.Name, f.Value.String())
	})
	a.summary = &summary{file: f, command: strings.Join(words, " "), omit: cmd.Annotations[omitOutput] != ""}
	a.summary.out.Max = summaryCap
	a.stdout = io.MultiWriter(a.stdout, &a.summary.out)
	return nil
}

// endSummary appends the summary of a command that ended with exit status code and error
// message msg ("" when it succeeded).
func (a *app) endSummary(code int, msg string) {
	s := a.summary
	if s == nil {
		return
	}
	a.summary = nil
	defer s.file.Close()
	var b strings.Builder
	heading := strings.NewReplacer("`", "'", "\n", " ", "\r", " ").Replace(s.command)
	fmt.Fprintf(&b, "### `%s`\n\n", heading)
	fmt.Fprintf(&b, "**%s** (exit %d)\n\n", outcome(code), code)
	if msg != "" {
		b.WriteString(fenced(msg))
	}
	switch {
	case s.omit:
		b.WriteString("Output not kept: it holds a credential.\n\n")
	case s.out.Len() > 0:
		out := s.out.String()
		if s.out.Cut {
			out += "\n… (cut: more than 32 KiB)"
		}
		b.WriteString(fenced(out))
	}
	if _, err := s.file.WriteString(b.String()); err != nil {
		fmt.Fprintf(a.stderr, "strata: warning: --summary %s: %v\n", s.file.Name(), pathCause(err))
	}
}

// outcome names an exit status as docs/cli.md does.
func outcome(code int) string {
	switch code {
	case 0:
		return "Done"
	case 1:
		return "Failed"
	case 2:
		return "Bad input"
	case 3:
		return "Blocked by a gate"
	case 4:
		return "Not allowed"
	}
	return "Ended"
}

// fenced puts text in a Markdown code block whose fence is longer than any run of
// backticks in it, so that nothing in a command's output or error (a reason, a hostile
// version string) is read as Markdown or HTML.
func fenced(text string) string {
	longest, run := 0, 0
	for _, r := range text {
		if r == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	fence := strings.Repeat("`", max(3, longest+1))
	return fence + "text\n" + strings.TrimRight(text, "\n") + "\n" + fence + "\n\n"
}

// pathCause is err without the *os.PathError's operation and path, which the message
// around it names already.
func pathCause(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Command live is livesep's one binary: real-time blind source separation
// for microphone arrays, and the tools around it.
//
//	live separate --in MIX.wav --out DIR [--method none|ica|iva|dict|iva+dict] ...
//	live eval     --ref REF --est EST [--mix MIX.wav] [--json] [--window 1s]
//	live demo     separate the mixture embedded in the binary and show the results
//	live run      real time from a PortAudio device
//	live devices  list audio devices
//	live train    train a dictionary autoencoder
//	live bench    latency and throughput benchmarks
//
// Exit codes: 0 success, 1 runtime failure (bad file, device, disk),
// 2 usage error (unknown flag or value), 130 interrupted (Ctrl-C/SIGTERM;
// files written so far are finalised).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, documented in --help.
const (
	exitOK          = 0
	exitFailure     = 1
	exitUsage       = 2
	exitInterrupted = 130
)

// usageError marks an error as the user's to fix (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return &usageError{fmt.Sprintf(format, a...)} }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"separate", "separate a multichannel WAV file into sources (file mode of the real-time engine)", runSeparate},
		{"eval", "score separated sources against references: SI-SDR and BSS Eval SDR/SIR/SAR", runEval},
		{"demo", "separate the mixture built into the binary and show the results", runDemo},
		{"run", "separate live from a PortAudio device", runRun},
		{"devices", "list audio devices", runDevices},
		{"train", "train a dictionary autoencoder from WAV files", runTrain},
		{"bench", "latency and throughput benchmarks", runBench},
	}
}

func notYet(name, issue string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(context.Context, []string, io.Writer, io.Writer) error {
		return fmt.Errorf("live %s is not implemented in this version (planned in %s)", name, issue)
	}
}

func usage(w io.Writer) {
	fmt.Fprint(w, `live — real-time blind source separation for microphone arrays

Usage:
  live <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run "live <command> --help" for a command's flags and examples.

Start here:
  live demo                                   # separate the built-in mixture
  live separate --in mix.wav --out sep/       # your own recording
  live eval --ref refs/ --est sep/ --mix mix.wav

Exit codes: 0 success, 1 runtime failure (file, device, disk),
2 usage error, 130 interrupted (files written so far are finalised).
`)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: tests call it directly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help", "-help", "help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, flag.ErrHelp):
			return exitOK
		case errors.Is(err, context.Canceled):
			fmt.Fprintf(stderr, "live %s: interrupted; files written so far are complete and valid\n", c.name)
			return exitInterrupted
		}
		fmt.Fprintf(stderr, "live %s: %v\n", c.name, err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "Run \"live %s --help\" for usage.\n", c.name)
			return exitUsage
		}
		return exitFailure
	}
	fmt.Fprintf(stderr, "live: unknown command %q\n\n", args[0])
	usage(stderr)
	return exitUsage
}

// cli is one subcommand's flag set with its help text. Flag errors are
// reported once, by run, as usage errors; --help prints to stdout.
type cli struct {
	fs                 *flag.FlagSet
	synopsis, examples string
	stdout             io.Writer
}

func newCLI(name, synopsis, examples string, stdout io.Writer) *cli {
	fs := flag.NewFlagSet("live "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &cli{fs: fs, synopsis: synopsis, examples: examples, stdout: stdout}
}

func (c *cli) help() {
	w := c.stdout
	c.fs.SetOutput(w)
	defer c.fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "Usage: live %s\n\nFlags:\n", c.synopsis)
	c.fs.PrintDefaults()
	if c.examples != "" {
		fmt.Fprintf(w, "\nExamples:\n%s", c.examples)
	}
	fmt.Fprint(w, "\nExit codes: 0 success, 1 runtime failure, 2 usage error, 130 interrupted.\n")
}

// parse parses args; flag mistakes become usage errors.
func (c *cli) parse(args []string) error {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help()
			return err
		}
		return &usageError{err.Error()}
	}
	if c.fs.NArg() > 0 {
		return usagef("unexpected argument %q (all inputs are given by flags)", c.fs.Arg(0))
	}
	return nil
}

// Command apiserver-replay replays a JSON-lines corpus of audit events through
// kube-apiserver's own audit backends (k8s.io/apiserver/plugin/pkg/audit/...), so
// that a receiver or a log tailer can be tested against the real sender.
//
// Usage:
//
//	apiserver-replay webhook --kubeconfig FILE --events FILE.jsonl [flags]
//	apiserver-replay log --path FILE --events FILE.jsonl [flags]
//
// See README.md for every flag, the summary line and the exit codes.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/klog/v2"
)

// Exit codes, stable for the test suites that run this program.
const (
	exitOK      = 0
	exitFailure = 1 // unreadable corpus, bad kubeconfig, unwritable log path
	exitUsage   = 2 // bad flags
	exitDropped = 3 // the backends reported events they could not deliver or write
)

const usageText = `usage:
  apiserver-replay webhook --kubeconfig FILE --events FILE.jsonl [--repeat N] [--rate EVENTS_PER_SEC]
      [--mode batch|blocking|blocking-strict] [--batch-max-size 400] [--batch-max-wait 1s]
      [--throttle-qps 10 --throttle-burst 15 | --no-throttle] [--initial-backoff 10s] [--buffer-size 10000]
      [--truncate-enabled [--truncate-max-event-size 102400] [--truncate-max-batch-size 10485760]]
  apiserver-replay log --path FILE --events FILE.jsonl [--repeat N] [--rate EVENTS_PER_SEC]
      [--mode blocking|blocking-strict|batch] [--max-size-mb 1] [--max-backups 100] [--max-age-days 366]
      [--compress] [--local-time]

Prints one JSON line at the end: {"events":N,"skipped":S,"seconds":T,"dropped":D}
Run "apiserver-replay MODE -h" for the flags of one mode.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole program; it returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	defer klog.Flush()
	if len(args) == 0 {
		fmt.Fprint(stderr, "apiserver-replay: a mode is required\n"+usageText)
		return exitUsage
	}
	switch args[0] {
	case "webhook":
		return runWebhook(args[1:], stdout, stderr)
	case "log":
		return runLog(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usageText)
		return exitOK
	default:
		fmt.Fprintf(stderr, "apiserver-replay: unknown mode %q\n%s", args[0], usageText)
		return exitUsage
	}
}

// replayFlags are the flags both modes share.
type replayFlags struct {
	events string
	repeat int
	rate   float64
}

func (r *replayFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&r.events, "events", "", "JSON-lines file of audit.k8s.io/v1 (or v1beta1) events (required)")
	fs.IntVar(&r.repeat, "repeat", 1, "replay the corpus this many times")
	fs.Float64Var(&r.rate, "rate", 0, "events per second handed to the backend; 0 = as fast as possible")
}

func (r *replayFlags) validate() error {
	switch {
	case r.events == "":
		return errors.New("--events is required")
	case r.repeat < 1:
		return fmt.Errorf("--repeat must be >= 1, got %d", r.repeat)
	case r.rate < 0:
		return fmt.Errorf("--rate must be >= 0, got %g", r.rate)
	}
	return nil
}

// parseFlags parses args into fs and reports usage errors on stderr. It returns
// the exit code to use when parsing did not succeed, or -1 to go on.
func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer, validate func() error) int {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage // the flag package has printed the error and the flags
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "apiserver-replay %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return exitUsage
	}
	if err := validate(); err != nil {
		fmt.Fprintf(stderr, "apiserver-replay %s: %v\n", fs.Name(), err)
		return exitUsage
	}
	return -1
}

// summary is the JSON line printed at the end of a replay.
type summary struct {
	Events  int     `json:"events"`
	Skipped int     `json:"skipped"`
	Seconds float64 `json:"seconds"`
	Dropped int64   `json:"dropped"`
}

// finish prints the summary and picks the exit code.
func finish(out, stderr io.Writer, s summary) int {
	line, err := json.Marshal(s)
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay: %v\n", err)
		return exitFailure
	}
	fmt.Fprintf(out, "%s\n", line)
	if s.Dropped > 0 {
		fmt.Fprintf(stderr, "apiserver-replay: the audit backend reported %d of %d events as not delivered "+
			"(see the 'Error in audit plugin' messages above)\n", s.Dropped, s.Events)
		return exitDropped
	}
	return exitOK
}

func loadOrReport(path string, stderr io.Writer) (*corpus, bool) {
	c, err := loadCorpus(path, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay: %v\n", err)
		return nil, false
	}
	if c.fromV1beta1 > 0 {
		fmt.Fprintf(stderr, "apiserver-replay: %s: %d audit.k8s.io/v1beta1 events converted to v1\n", path, c.fromV1beta1)
	}
	return c, true
}

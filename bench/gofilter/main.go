// Command gofilter applies a kube audit Policy to JSON-lines audit events with
// kube-apiserver's own packages: what a Go engineer would write instead of
// auditpipe, kept as a benchmark baseline and as a reference for differential tests.
//
//	gofilter --policy FILE [--decisions] [--stats] [FILE|-]
//
// See README.md.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/audit/policy"
	"k8s.io/klog/v2"
)

const (
	exitOK       = 0
	exitBadLines = 1 // some lines could not be read; the others were processed
	exitUsage    = 2 // bad flags, unreadable policy or input file
)

// maxLineBytes bounds one input line.
const maxLineBytes = 64 << 20

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	policy    string
	decisions bool
	stats     bool
	input     string
}

func parseArgs(args []string, stderr io.Writer) (options, int) {
	fs := flag.NewFlagSet("gofilter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.policy, "policy", "", "audit.k8s.io/v1 Policy file, YAML or JSON (required)")
	fs.BoolVar(&o.decisions, "decisions", false, "write one decision line per input event instead of the kept events")
	fs.BoolVar(&o.stats, "stats", false, "write counts to stderr at the end")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gofilter --policy FILE [--decisions] [--stats] [FILE|-]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return o, exitOK
		}
		return o, exitUsage
	}
	switch {
	case o.policy == "":
		fmt.Fprintln(stderr, "gofilter: --policy is required")
		return o, exitUsage
	case fs.NArg() > 1:
		fmt.Fprintf(stderr, "gofilter: one input file at most, got %d\n", fs.NArg())
		return o, exitUsage
	case fs.NArg() == 1:
		o.input = fs.Arg(0)
	}
	return o, -1
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	defer klog.Flush()
	opts, code := parseArgs(args, stderr)
	if code >= 0 {
		return code
	}
	start := time.Now()
	// kube's own reader: strict decoding with a lenient fallback, validation, >= 1 rule.
	pol, err := policy.LoadPolicyFromFile(opts.policy)
	if err != nil {
		fmt.Fprintf(stderr, "gofilter: loading audit policy file: %v\n", err)
		return exitUsage
	}
	evaluator := policy.NewPolicyRuleEvaluator(pol)

	in, name := stdin, "<stdin>"
	if opts.input != "" && opts.input != "-" {
		f, err := os.Open(opts.input)
		if err != nil {
			fmt.Fprintf(stderr, "gofilter: %v\n", err)
			return exitUsage
		}
		defer f.Close()
		in, name = f, opts.input
	}
	out := bufio.NewWriterSize(stdout, 1<<20)
	f := filter{evaluator: evaluator, decisions: opts.decisions, out: out, stderr: stderr, name: name}
	readErr := f.run(bufio.NewReaderSize(in, 1<<20))
	if err := out.Flush(); err != nil && readErr == nil {
		readErr = fmt.Errorf("writing output: %w", err)
	}
	if opts.stats {
		f.counts.Seconds = time.Since(start).Seconds()
		line, _ := json.Marshal(f.counts)
		fmt.Fprintf(stderr, "%s\n", line)
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "gofilter: %v\n", readErr)
		return exitUsage
	}
	if f.counts.BadLines > 0 {
		return exitBadLines
	}
	return exitOK
}

// counts are the --stats line.
type counts struct {
	Lines       int            `json:"lines"`
	Events      int            `json:"events"`
	Kept        int            `json:"kept"`
	DroppedNone int            `json:"dropped_level_none"`
	DroppedStg  int            `json:"dropped_omitted_stage"`
	BadLines    int            `json:"bad_lines"`
	KeptLevels  map[string]int `json:"kept_by_level"`
	Seconds     float64        `json:"seconds"`
}

type filter struct {
	evaluator audit.PolicyRuleEvaluator
	decisions bool
	out       *bufio.Writer
	stderr    io.Writer
	name      string
	counts    counts
}

// decisionLine is one --decisions line.
type decisionLine struct {
	Line    int    `json:"line"`
	AuditID string `json:"auditID"`
	Stage   string `json:"stage"`
	Level   string `json:"level"`
	Omitted bool   `json:"omitted"`
}

func (f *filter) run(r *bufio.Reader) error {
	f.counts.KeptLevels = map[string]int{}
	for lineNo := 1; ; lineNo++ {
		line, err := readLine(r)
		if len(line) > 0 {
			f.counts.Lines++
			if perr := f.process(lineNo, line); perr != nil {
				f.counts.BadLines++
				fmt.Fprintf(f.stderr, "%s:%d: %v\n", f.name, lineNo, perr)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s:%d: %w", f.name, lineNo, err)
		}
	}
}

// process handles one non-empty line; an error means the line is unreadable.
func (f *filter) process(lineNo int, line []byte) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		f.counts.Lines--
		return nil
	}
	var ev auditv1.Event
	if err := json.Unmarshal(line, &ev); err != nil {
		return fmt.Errorf("not an audit event: %v", err)
	}
	if !knownLevel(ev.Level) {
		return fmt.Errorf("level %q is not an audit level", ev.Level)
	}
	if !knownStage(ev.Stage) {
		return fmt.Errorf("stage %q is not an audit stage", ev.Stage)
	}
	f.counts.Events++
	d := decide(f.evaluator, &ev)
	if d.kept() {
		f.counts.Kept++
		f.counts.KeptLevels[string(d.level)]++
	} else if d.level == auditinternal.LevelNone {
		f.counts.DroppedNone++
	} else {
		f.counts.DroppedStg++
	}
	if f.decisions {
		return f.write(decisionLine{Line: lineNo, AuditID: string(ev.AuditID), Stage: string(ev.Stage),
			Level: string(d.level), Omitted: d.omitted})
	}
	if !d.kept() {
		return nil
	}
	if err := applyLevel(&ev, d); err != nil {
		return err
	}
	return f.write(&ev)
}

// write appends one JSON line. Write errors are sticky in the bufio.Writer and
// reported by the final Flush.
func (f *filter) write(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding: %v", err)
	}
	f.out.Write(data)
	f.out.WriteByte('\n')
	return nil
}

// readLine returns the next line without its newline. The slice is valid until
// the next call.
func readLine(r *bufio.Reader) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) {
			if len(long) > maxLineBytes {
				return nil, fmt.Errorf("line longer than %d bytes", maxLineBytes)
			}
			line, err = r.ReadSlice('\n')
			long = append(long, line...)
		}
		line = long
	}
	return bytes.TrimSuffix(line, []byte("\n")), err
}

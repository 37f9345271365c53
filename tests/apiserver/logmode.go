package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/plugin/pkg/audit/buffered"
	auditlog "k8s.io/apiserver/plugin/pkg/audit/log"
)

// lumberjack's backup names are <prefix>-<time in this layout><ext>.
const lumberjackBackupTimeFormat = "2006-01-02T15-04-05.000"

// compressionWait bounds the wait for lumberjack's background gzip after Close.
const compressionWait = 2 * time.Minute

// logFlags mirror kube-apiserver's --audit-log-* flags. Defaults are kube's, except
// --max-size-mb (kube: 100), small so that a test corpus rotates.
type logFlags struct {
	replayFlags
	path       string
	mode       string
	maxSizeMB  int
	maxBackups int
	maxAgeDays int
	compress   bool
	localTime  bool
}

func (l *logFlags) register(fs *flag.FlagSet) {
	l.replayFlags.register(fs)
	fs.StringVar(&l.path, "path", "", "audit log file, as --audit-log-path; '-' writes to stdout and the summary to stderr (required)")
	fs.StringVar(&l.mode, "mode", modeBlocking, "blocking, blocking-strict or batch, as --audit-log-mode")
	fs.IntVar(&l.maxSizeMB, "max-size-mb", 1, "rotate when the file would pass this many MB; 0 = no rotation (--audit-log-maxsize)")
	fs.IntVar(&l.maxBackups, "max-backups", 100, "keep at most this many rotated files; 0 = all (--audit-log-maxbackup)")
	fs.IntVar(&l.maxAgeDays, "max-age-days", 366, "remove rotated files older than this; 0 = never (--audit-log-maxage)")
	fs.BoolVar(&l.compress, "compress", false, "gzip rotated files (--audit-log-compress)")
	fs.BoolVar(&l.localTime, "local-time", false, "local time in backup names instead of UTC (lumberjack's LocalTime)")
}

func (l *logFlags) validate() error {
	if err := l.replayFlags.validate(); err != nil {
		return err
	}
	if l.path == "" {
		return errors.New("--path is required")
	}
	if err := validateMode(l.mode); err != nil {
		return err
	}
	switch {
	case l.maxSizeMB < 0:
		return fmt.Errorf("--max-size-mb %d can't be a negative number", l.maxSizeMB)
	case l.maxBackups < 0:
		return fmt.Errorf("--max-backups %d can't be a negative number", l.maxBackups)
	case l.maxAgeDays < 0:
		return fmt.Errorf("--max-age-days %d can't be a negative number", l.maxAgeDays)
	}
	return nil
}

// openWriter opens the log as kube-apiserver's AuditLogOptions.getWriter does:
// stdout for "-"; otherwise the file is created first (mode 0600, its directory
// 0700), then written through lumberjack, or appended to directly when rotation is off.
func (l *logFlags) openWriter() (io.Writer, func() error, error) {
	if l.path == "-" {
		return os.Stdout, func() error { return nil }, nil
	}
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_APPEND|os.O_RDWR, 0o600)
	if err != nil {
		return nil, nil, err
	}
	if l.maxSizeMB == 0 {
		return f, f.Close, nil
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	logger := &lumberjack.Logger{
		Filename:   l.path,
		MaxSize:    l.maxSizeMB,
		MaxBackups: l.maxBackups,
		MaxAge:     l.maxAgeDays,
		Compress:   l.compress,
		LocalTime:  l.localTime,
	}
	return logger, logger.Close, nil
}

// newBackend wraps kube's log backend for the mode, as AuditLogOptions.newBackend
// does (truncation is off by default for the log backend and not offered here).
func (l *logFlags) newBackend(w io.Writer) audit.Backend {
	backend := auditlog.NewBackend(w, auditlog.FormatJson, auditv1.SchemeGroupVersion)
	switch l.mode {
	case modeBlocking:
		return ignoreErrors{Backend: backend}
	case modeBatch:
		// kube's defaultLogBatchConfig: no batching, no throttling, synchronous.
		return buffered.NewBackend(backend, buffered.BatchConfig{BufferSize: 10000, MaxBatchSize: 1})
	}
	return backend
}

func runLog(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("log", flag.ContinueOnError)
	var opts logFlags
	opts.register(fs)
	if code := parseFlags(fs, args, stderr, opts.validate); code >= 0 {
		return code
	}
	c, ok := loadOrReport(opts.events, stderr)
	if !ok {
		return exitFailure
	}
	writer, closeWriter, err := opts.openWriter()
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay log: opening %s: %v\n", opts.path, err)
		return exitFailure
	}
	summaryOut := stdout
	if opts.path == "-" {
		summaryOut = stderr
	}
	res, err := backendRun{backend: opts.newBackend(writer), events: c.events, repeat: opts.repeat, rate: opts.rate}.execute()
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay log: %v\n", err)
		return exitFailure
	}
	if err := closeWriter(); err != nil {
		fmt.Fprintf(stderr, "apiserver-replay log: closing %s: %v\n", opts.path, err)
		return exitFailure
	}
	if opts.compress && opts.maxSizeMB > 0 && opts.path != "-" {
		// lumberjack gzips backups in a goroutine that Close does not wait for; an
		// exit now could leave a half-written .gz next to its source.
		if err := waitForCompression(opts.path, compressionWait); err != nil {
			fmt.Fprintf(stderr, "apiserver-replay log: %v\n", err)
			return exitFailure
		}
	}
	return finish(summaryOut, stderr, summary{Events: res.sent, Skipped: c.skipped, Seconds: res.seconds, Dropped: res.dropped})
}

// waitForCompression waits until no uncompressed lumberjack backup of path is left:
// lumberjack removes a backup only after its .gz is complete.
func waitForCompression(path string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		pending, err := uncompressedBackups(path)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("rotated files still not compressed after %s: %s", limit, strings.Join(pending, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func uncompressedBackups(path string) ([]string, error) {
	dir := filepath.Dir(path)
	base := filepath.Base(path)
	ext := filepath.Ext(base)
	prefix := base[:len(base)-len(ext)] + "-"
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var pending []string
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasPrefix(name, prefix) || !strings.HasSuffix(name, ext) {
			continue
		}
		stamp := name[len(prefix) : len(name)-len(ext)]
		if _, err := time.Parse(lumberjackBackupTimeFormat, stamp); err == nil {
			pending = append(pending, name)
		}
	}
	return pending, nil
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	utilwebhook "k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/apiserver/plugin/pkg/audit/buffered"
	"k8s.io/apiserver/plugin/pkg/audit/truncate"
	"k8s.io/apiserver/plugin/pkg/audit/webhook"
)

// webhookFlags mirror kube-apiserver's --audit-webhook-* flags. Defaults are kube's,
// except --batch-max-wait (kube: 30s), shortened so that a small corpus is sent
// promptly.
type webhookFlags struct {
	replayFlags
	kubeconfig           string
	mode                 string
	batchMaxSize         int
	batchMaxWait         time.Duration
	throttleQPS          float64
	throttleBurst        int
	noThrottle           bool
	initialBackoff       time.Duration
	bufferSize           int
	truncateEnabled      bool
	truncateMaxEventSize int64
	truncateMaxBatchSize int64
	throttleFlagsSet     bool
}

func (w *webhookFlags) register(fs *flag.FlagSet) {
	w.replayFlags.register(fs)
	fs.StringVar(&w.kubeconfig, "kubeconfig", "", "kubeconfig naming the webhook, as --audit-webhook-config-file (required)")
	fs.StringVar(&w.mode, "mode", modeBatch, "batch, blocking or blocking-strict, as --audit-webhook-mode")
	fs.IntVar(&w.batchMaxSize, "batch-max-size", 400, "at most this many events per request")
	fs.DurationVar(&w.batchMaxWait, "batch-max-wait", time.Second, "send a partial batch after this long (kube's default: 30s)")
	fs.Float64Var(&w.throttleQPS, "throttle-qps", 10, "at most this many requests per second on average")
	fs.IntVar(&w.throttleBurst, "throttle-burst", 15, "requests allowed at once when the QPS was not used")
	fs.BoolVar(&w.noThrottle, "no-throttle", false, "send batches unthrottled (--audit-webhook-batch-throttle-enable=false)")
	fs.DurationVar(&w.initialBackoff, "initial-backoff", webhook.DefaultInitialBackoffDelay, "first retry delay; then x1.5, 5 attempts in all")
	fs.IntVar(&w.bufferSize, "buffer-size", 10000, "events queued before the batch backend drops new ones")
	fs.BoolVar(&w.truncateEnabled, "truncate-enabled", false, "truncate large events and split large batches, as --audit-webhook-truncate-enabled")
	fs.Int64Var(&w.truncateMaxEventSize, "truncate-max-event-size", 100*1024, "events larger than this lose their request and response objects")
	fs.Int64Var(&w.truncateMaxBatchSize, "truncate-max-batch-size", 10*1024*1024, "batches larger than this are split")
}

func (w *webhookFlags) validate() error {
	if err := w.replayFlags.validate(); err != nil {
		return err
	}
	if w.kubeconfig == "" {
		return errors.New("--kubeconfig is required")
	}
	if err := validateMode(w.mode); err != nil {
		return err
	}
	switch {
	case w.noThrottle && w.throttleFlagsSet:
		return errors.New("--no-throttle cannot be combined with --throttle-qps or --throttle-burst")
	case w.batchMaxSize < 1:
		return fmt.Errorf("--batch-max-size must be >= 1, got %d", w.batchMaxSize)
	case w.batchMaxWait <= 0:
		return fmt.Errorf("--batch-max-wait must be > 0, got %s", w.batchMaxWait)
	case w.bufferSize < 1:
		return fmt.Errorf("--buffer-size must be >= 1, got %d", w.bufferSize)
	case !w.noThrottle && w.throttleQPS <= 0:
		return fmt.Errorf("--throttle-qps must be > 0, got %g", w.throttleQPS)
	case !w.noThrottle && w.throttleBurst < 1:
		return fmt.Errorf("--throttle-burst must be >= 1, got %d", w.throttleBurst)
	case w.initialBackoff < 0:
		return fmt.Errorf("--initial-backoff must be >= 0, got %s", w.initialBackoff)
	case w.truncateMaxEventSize <= 0:
		return fmt.Errorf("--truncate-max-event-size must be > 0, got %d", w.truncateMaxEventSize)
	case w.truncateMaxBatchSize < w.truncateMaxEventSize:
		return fmt.Errorf("--truncate-max-batch-size (%d) must be >= --truncate-max-event-size (%d)",
			w.truncateMaxBatchSize, w.truncateMaxEventSize)
	}
	return nil
}

// newBackend builds the webhook backend the way kube-apiserver's audit options do:
// webhook, wrapped for the mode, wrapped in truncation when enabled.
func (w *webhookFlags) newBackend() (audit.Backend, error) {
	backoff := utilwebhook.DefaultRetryBackoffWithInitialDelay(w.initialBackoff)
	backend, err := webhook.NewBackend(w.kubeconfig, auditv1.SchemeGroupVersion, backoff, nil)
	if err != nil {
		return nil, fmt.Errorf("initializing audit webhook from %s: %w", w.kubeconfig, err)
	}
	switch w.mode {
	case modeBlocking:
		backend = ignoreErrors{Backend: backend}
	case modeBatch:
		backend = buffered.NewBackend(backend, buffered.BatchConfig{
			BufferSize:     w.bufferSize,
			MaxBatchSize:   w.batchMaxSize,
			MaxBatchWait:   w.batchMaxWait,
			ThrottleEnable: !w.noThrottle,
			ThrottleQPS:    float32(w.throttleQPS),
			ThrottleBurst:  w.throttleBurst,
			AsyncDelegate:  true,
		})
	}
	if w.truncateEnabled {
		backend = truncate.NewBackend(backend, truncate.Config{
			MaxEventSize: w.truncateMaxEventSize,
			MaxBatchSize: w.truncateMaxBatchSize,
		}, auditv1.SchemeGroupVersion)
	}
	return backend, nil
}

func runWebhook(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("webhook", flag.ContinueOnError)
	var opts webhookFlags
	opts.register(fs)
	code := parseFlags(fs, args, stderr, func() error {
		fs.Visit(func(f *flag.Flag) {
			if f.Name == "throttle-qps" || f.Name == "throttle-burst" {
				opts.throttleFlagsSet = true
			}
		})
		return opts.validate()
	})
	if code >= 0 {
		return code
	}
	backend, err := opts.newBackend()
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay webhook: %v\n", err)
		return exitFailure
	}
	c, ok := loadOrReport(opts.events, stderr)
	if !ok {
		return exitFailure
	}
	res, err := backendRun{backend: backend, events: c.events, repeat: opts.repeat, rate: opts.rate}.execute()
	if err != nil {
		fmt.Fprintf(stderr, "apiserver-replay webhook: %v\n", err)
		return exitFailure
	}
	return finish(stdout, stderr, summary{Events: res.sent, Skipped: c.skipped, Seconds: res.seconds, Dropped: res.dropped})
}

package main

import (
	"fmt"
	"time"

	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/component-base/metrics/legacyregistry"
)

// auditErrorMetric is kube's own count of events a backend failed to record
// (k8s.io/apiserver/pkg/audit/metrics.go, incremented by HandlePluginError). It is
// the only place where a dropped batch shows, apart from the klog error line.
const auditErrorMetric = "apiserver_audit_error_total"

// backendRun runs events through backend as kube-apiserver does: Run, ProcessEvents
// once per event (as the audit filter does per stage), then stop and Shutdown,
// which waits for the buffered backend to flush and for every batch to be sent or
// given up.
type backendRun struct {
	backend audit.Backend
	events  []*auditinternal.Event
	repeat  int
	rate    float64
}

// result is what a replay did.
type result struct {
	sent    int
	seconds float64
	dropped int64
}

func (r backendRun) execute() (result, error) {
	errorsBefore, err := auditErrorTotal()
	if err != nil {
		return result{}, err
	}
	stopCh := make(chan struct{})
	start := time.Now()
	if err := r.backend.Run(stopCh); err != nil {
		return result{}, fmt.Errorf("starting the audit backend: %w", err)
	}
	sent := 0
	for round := 0; round < r.repeat; round++ {
		for _, ev := range r.events {
			if r.rate > 0 {
				pace(start, sent, r.rate)
			}
			// Backends must not keep or change the event (audit.Backend's contract:
			// the buffered backend deep-copies), so one event can be handed over again.
			r.backend.ProcessEvents(ev)
			sent++
		}
	}
	close(stopCh)
	r.backend.Shutdown()
	elapsed := time.Since(start).Seconds()

	errorsAfter, err := auditErrorTotal()
	if err != nil {
		return result{}, err
	}
	return result{sent: sent, seconds: elapsed, dropped: int64(errorsAfter - errorsBefore)}, nil
}

// pace sleeps until event number sent is due, so that events leave at rate per
// second on average from start, without drift.
func pace(start time.Time, sent int, rate float64) {
	due := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		time.Sleep(wait)
	}
}

// auditErrorTotal sums kube's apiserver_audit_error_total over all plugins.
func auditErrorTotal() (float64, error) {
	families, err := legacyregistry.DefaultGatherer.Gather()
	if err != nil {
		return 0, fmt.Errorf("reading the audit error metric: %w", err)
	}
	total := 0.0
	for _, family := range families {
		if family.GetName() != auditErrorMetric {
			continue
		}
		for _, m := range family.GetMetric() {
			total += m.GetCounter().GetValue()
		}
	}
	return total, nil
}

// ignoreErrors is kube-apiserver's "blocking" mode (pkg/server/options/audit.go):
// the delegate runs synchronously and its failures are logged and counted by the
// delegate but not reported to the caller. "blocking-strict" uses the delegate
// as it is.
type ignoreErrors struct {
	audit.Backend
}

func (i ignoreErrors) ProcessEvents(ev ...*auditinternal.Event) bool {
	i.Backend.ProcessEvents(ev...)
	return true
}

func (i ignoreErrors) String() string {
	return fmt.Sprintf("ignoreErrors<%s>", i.Backend)
}

// Backend modes, as kube-apiserver's --audit-{log,webhook}-mode.
const (
	modeBatch          = "batch"
	modeBlocking       = "blocking"
	modeBlockingStrict = "blocking-strict"
)

func validateMode(mode string) error {
	switch mode {
	case modeBatch, modeBlocking, modeBlockingStrict:
		return nil
	}
	return fmt.Errorf("--mode must be one of %s, %s, %s; got %q", modeBatch, modeBlocking, modeBlockingStrict, mode)
}

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	"k8s.io/apiserver/pkg/apis/audit/install"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	kjson "sigs.k8s.io/json"
)

// maxLineBytes bounds one corpus line. kube-apiserver's own truncation limit for a
// batch is 10 MiB, so no real event comes near this.
const maxLineBytes = 64 << 20

// maxSkipMessages caps the per-line notices for skipped lines; the total is always reported.
const maxSkipMessages = 5

const (
	apiVersionV1      = "audit.k8s.io/v1"
	apiVersionV1beta1 = "audit.k8s.io/v1beta1"
)

// corpus is a decoded event file: the internal events in file order, and how many
// lines were skipped because their version cannot be converted.
type corpus struct {
	events      []*auditinternal.Event
	skipped     int
	fromV1beta1 int
}

// auditScheme converts audit.k8s.io/v1 events to the internal type, exactly as the
// webhook package does with its own scheme.
var auditScheme = newAuditScheme()

func newAuditScheme() *runtime.Scheme {
	scheme := runtime.NewScheme()
	install.Install(scheme)
	return scheme
}

// v1beta1Times holds the two v1beta1-only fields that the v1beta1 conversion used as
// fallbacks for the v1 timestamps (kube <= 1.23, pkg/apis/audit/v1beta1/conversion.go).
type v1beta1Times struct {
	Timestamp metav1.Time `json:"timestamp"`
	Metadata  struct {
		CreationTimestamp metav1.Time `json:"creationTimestamp"`
	} `json:"metadata"`
}

// loadCorpus reads a JSON-lines file of audit events into memory.
//
// A line is an audit.k8s.io/v1 Event (apiVersion and kind may be absent, as in the
// items of a webhook EventList), or an audit.k8s.io/v1beta1 Event, whose fields are
// the v1 fields plus `timestamp` and `metadata`. Other audit.k8s.io versions are
// skipped and counted; anything else that cannot be decoded is an error naming the
// file and line. Blank lines are ignored.
func loadCorpus(path string, stderr io.Writer) (*corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read events file: %w", err)
	}
	defer f.Close()

	c := &corpus{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 1<<20), maxLineBytes)
	lineNo := 0
	for scanner.Scan() {
		lineNo++
		line := bytes.TrimSpace(scanner.Bytes())
		if len(line) == 0 {
			continue
		}
		ev, skip, err := decodeLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, lineNo, err)
		}
		if skip != "" {
			c.skipped++
			if c.skipped <= maxSkipMessages {
				fmt.Fprintf(stderr, "%s:%d: skipped: %s\n", path, lineNo, skip)
			}
			continue
		}
		if ev.fromV1beta1 {
			c.fromV1beta1++
		}
		c.events = append(c.events, ev.event)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: cannot read events file: %w", path, lineNo+1, err)
	}
	if c.skipped > maxSkipMessages {
		fmt.Fprintf(stderr, "%s: %d lines skipped in all\n", path, c.skipped)
	}
	return c, nil
}

type decodedEvent struct {
	event       *auditinternal.Event
	fromV1beta1 bool
}

// decodeLine decodes one line. It returns either an event, a reason to skip the
// line, or an error.
func decodeLine(line []byte) (decodedEvent, string, error) {
	var external auditv1.Event
	// Case-sensitive, like kube's own JSON serializer; unknown fields are ignored,
	// like kube's lenient decoding (and needed for v1beta1's extra fields).
	if err := kjson.UnmarshalCaseSensitivePreserveInts(line, &external); err != nil {
		return decodedEvent{}, "", fmt.Errorf("not an audit event: %v", err)
	}
	if external.Kind != "" && external.Kind != "Event" {
		return decodedEvent{}, "", fmt.Errorf("kind %q is not Event", external.Kind)
	}
	fromV1beta1 := false
	switch external.APIVersion {
	case "", apiVersionV1:
	case apiVersionV1beta1:
		if err := applyV1beta1Times(line, &external); err != nil {
			return decodedEvent{}, "", err
		}
		fromV1beta1 = true
	default:
		return decodedEvent{}, fmt.Sprintf("apiVersion %q is not supported (only %s and %s)",
			external.APIVersion, apiVersionV1, apiVersionV1beta1), nil
	}
	internal := &auditinternal.Event{}
	if err := auditScheme.Convert(&external, internal, nil); err != nil {
		return decodedEvent{}, "", fmt.Errorf("cannot convert to the internal audit event: %v", err)
	}
	return decodedEvent{event: internal, fromV1beta1: fromV1beta1}, "", nil
}

// applyV1beta1Times fills the v1 timestamps from the v1beta1-only fields when the
// event lacks them, as the v1beta1 -> internal conversion did.
func applyV1beta1Times(line []byte, ev *auditv1.Event) error {
	var times v1beta1Times
	if err := kjson.UnmarshalCaseSensitivePreserveInts(line, &times); err != nil {
		return fmt.Errorf("not an audit.k8s.io/v1beta1 event: %v", err)
	}
	if ev.StageTimestamp.IsZero() {
		ev.StageTimestamp = metav1.NewMicroTime(times.Metadata.CreationTimestamp.Time)
	}
	if ev.RequestReceivedTimestamp.IsZero() {
		ev.RequestReceivedTimestamp = metav1.NewMicroTime(times.Timestamp.Time)
	}
	return nil
}

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	kjson "sigs.k8s.io/json"
)

// replayBinary is the program under test, built once by TestMain so that the tests
// see exactly what the Python suite runs: flags, stdout, stderr and exit codes.
var replayBinary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "apiserver-replay-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	replayBinary = filepath.Join(dir, "apiserver-replay")
	build := exec.Command("go", "build", "-o", replayBinary, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building apiserver-replay:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type runResult struct {
	stdout, stderr string
	code           int
}

func runReplay(t *testing.T, args ...string) runResult {
	t.Helper()
	cmd := exec.Command(replayBinary, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err != nil {
		t.Fatalf("running %v: %v", args, err)
	}
	return runResult{stdout: stdout.String(), stderr: stderr.String(), code: code}
}

func parseSummary(t *testing.T, r runResult) summary {
	t.Helper()
	var s summary
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		t.Fatalf("stdout is not one summary line (%v): %q\nstderr: %s", err, r.stdout, r.stderr)
	}
	return s
}

// testEvents is a small corpus written for these tests: a list, a create with a
// body, a patch, a non-resource get and an event without a user. Padding makes
// the body large enough that a few thousand lines pass a megabyte.
func testEvents() []string {
	padding := strings.Repeat("x", 600)
	return []string{
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b3c0a4e-0001-4000-8000-000000000001","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/pods?limit=500","verb":"list","user":{"username":"alice","groups":["dev","system:authenticated"]},"sourceIPs":["10.0.0.1"],"userAgent":"kubectl/v1.36.0","objectRef":{"resource":"pods","namespace":"default","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:00.000001Z","stageTimestamp":"2026-01-01T00:00:00.000200Z","annotations":{"authorization.k8s.io/decision":"allow"}}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"RequestResponse","auditID":"0b3c0a4e-0002-4000-8000-000000000002","stage":"ResponseComplete","requestURI":"/api/v1/namespaces/default/configmaps","verb":"create","user":{"username":"bob","uid":"u-2","groups":["system:authenticated"],"extra":{"scopes":["a","b"]}},"objectRef":{"resource":"configmaps","namespace":"default","name":"cfg","apiVersion":"v1"},"responseStatus":{"metadata":{},"code":201},"requestObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg","namespace":"default"},"data":{"pad":"` + padding + `"}},"responseObject":{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg","namespace":"default","uid":"c-1","resourceVersion":"42","managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:pad":{}}}}]},"data":{"pad":"` + padding + `"}},"requestReceivedTimestamp":"2026-01-01T00:00:01.000001Z","stageTimestamp":"2026-01-01T00:00:01.003000Z"}`,
		`{"level":"Request","auditID":"0b3c0a4e-0003-4000-8000-000000000003","stage":"ResponseComplete","requestURI":"/api/v1/nodes/n1/status","verb":"patch","user":{"username":"system:node:n1","groups":["system:nodes"]},"objectRef":{"resource":"nodes","name":"n1","apiVersion":"v1","subresource":"status"},"responseStatus":{"metadata":{},"code":200},"requestObject":{"status":{"conditions":[{"type":"Ready","status":"True"}]}},"requestReceivedTimestamp":"2026-01-01T00:00:02.000001Z","stageTimestamp":"2026-01-01T00:00:02.000900Z"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b3c0a4e-0004-4000-8000-000000000004","stage":"ResponseComplete","requestURI":"/healthz","verb":"get","user":{"username":"system:anonymous","groups":["system:unauthenticated"]},"responseStatus":{"metadata":{},"code":200},"requestReceivedTimestamp":"2026-01-01T00:00:03.000001Z","stageTimestamp":"2026-01-01T00:00:03.000010Z"}`,
		`{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"Metadata","auditID":"0b3c0a4e-0005-4000-8000-000000000005","stage":"ResponseStarted","requestURI":"/api/v1/secrets","verb":"list","user":{},"responseStatus":{"metadata":{},"status":"Failure","message":"Authentication failed, no credentials provided","reason":"Unauthorized","code":401},"requestReceivedTimestamp":"2026-01-01T00:00:04.000001Z","stageTimestamp":"2026-01-01T00:00:04.000002Z"}`,
	}
}

func writeCorpus(t *testing.T, dir string, lines []string) string {
	t.Helper()
	path := filepath.Join(dir, "events.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// canonical decodes an audit.k8s.io/v1 event (a log line, an EventList item or a
// corpus line) and re-encodes it without kind and apiVersion, so that equal events
// compare equal whatever their key order and whether they carried a TypeMeta.
func canonical(t *testing.T, raw []byte) string {
	t.Helper()
	var ev auditv1.Event
	if err := kjson.UnmarshalCaseSensitivePreserveInts(raw, &ev); err != nil {
		t.Fatalf("not an audit event (%v): %.200s", err, raw)
	}
	ev.Kind, ev.APIVersion = "", ""
	out, err := json.Marshal(&ev)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// expectedCounts is the multiset of canonical events that a replay of lines,
// repeated repeat times, must produce.
func expectedCounts(t *testing.T, lines []string, repeat int) map[string]int {
	t.Helper()
	want := map[string]int{}
	for _, line := range lines {
		want[canonical(t, []byte(line))] += repeat
	}
	return want
}

func compareCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	for ev, n := range want {
		if got[ev] != n {
			t.Errorf("event seen %d times, want %d: %.160s", got[ev], n, ev)
		}
	}
	for ev, n := range got {
		if _, ok := want[ev]; !ok {
			t.Errorf("unexpected event seen %d times: %.160s", n, ev)
		}
	}
}

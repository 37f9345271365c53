package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const testPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
omitManagedFields: true
rules:
  - level: None
    nonResourceURLs: ["/healthz*"]
  - level: Metadata
    resources: [{group: "", resources: ["secrets"]}]
  - level: RequestResponse
    resources: [{group: "apps", resources: ["deployments"]}]
  - level: Request
    resources: [{group: "", resources: ["pods"]}]
    omitStages: ["ResponseStarted"]
  - level: RequestResponse
    resources: [{group: "", resources: ["configmaps"]}]
    omitManagedFields: false
  - level: RequestResponse
    resources: [{group: "", resources: ["nodes"]}]
  - level: Metadata
    userGroups: ["system:unauthenticated"]
  - level: None
`

// mf is a managedFields entry; its presence or absence is what the tests look for.
const mf = `"managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","fieldsType":"FieldsV1","fieldsV1":{"f:spec":{}}}]`

func ev(id, level, stage, verb, uri, user, ref, extra string) string {
	s := `{"kind":"Event","apiVersion":"audit.k8s.io/v1","level":"` + level + `","auditID":"` + id + `","stage":"` + stage +
		`","requestURI":"` + uri + `","verb":"` + verb + `","user":` + user
	if ref != "" {
		s += `,"objectRef":` + ref
	}
	if extra != "" {
		s += "," + extra
	}
	return s + `,"requestReceivedTimestamp":"2026-01-01T00:00:00.000001Z","stageTimestamp":"2026-01-01T00:00:00.000002Z"}`
}

const (
	alice = `{"username":"alice","groups":["system:authenticated"]}`
	anon  = `{"username":"system:anonymous","groups":["system:unauthenticated"]}`
)

// testInput is one line per case; the line numbers are those of expectedDecisions.
var testInput = strings.Join([]string{
	/* 1 */ ev("healthz", "Metadata", "ResponseComplete", "get", "/healthz?verbose", anon, "", ""),
	/* 2 */ ev("secret", "RequestResponse", "ResponseComplete", "create", "/api/v1/namespaces/a/secrets", alice,
		`{"resource":"secrets","namespace":"a","apiVersion":"v1"}`,
		`"requestObject":{"kind":"Secret","metadata":{"name":"s"}},"responseObject":{"kind":"Secret","metadata":{"name":"s"}}`),
	/* 3 */ ev("patch", "RequestResponse", "ResponseComplete", "patch", "/apis/apps/v1/namespaces/a/deployments/d", alice,
		`{"resource":"deployments","namespace":"a","name":"d","apiGroup":"apps","apiVersion":"v1"}`,
		`"requestObject":{"metadata":{`+mf+`},"spec":{"replicas":3}},"responseObject":{"kind":"Deployment","metadata":{"name":"d",`+mf+`},"spec":{"replicas":3}}`),
	/* 4 */ ev("pod", "RequestResponse", "ResponseComplete", "create", "/api/v1/namespaces/a/pods", alice,
		`{"resource":"pods","namespace":"a","apiVersion":"v1"}`,
		`"requestObject":{"kind":"Pod","metadata":{"name":"p",`+mf+`}},"responseObject":{"kind":"Pod","metadata":{"name":"p",`+mf+`}}`),
	/* 5 */ ev("watch", "Request", "ResponseStarted", "watch", "/api/v1/namespaces/a/pods?watch=true", alice,
		`{"resource":"pods","namespace":"a","apiVersion":"v1"}`, ""),
	/* 6 */ ev("cm", "RequestResponse", "ResponseComplete", "update", "/api/v1/namespaces/a/configmaps/c", alice,
		`{"resource":"configmaps","namespace":"a","name":"c","apiVersion":"v1"}`,
		`"requestObject":{"kind":"ConfigMap","metadata":{"name":"c",`+mf+`}},"responseObject":{"kind":"ConfigMap","metadata":{"name":"c",`+mf+`}}`),
	/* 7 */ ev("nodelist", "RequestResponse", "ResponseComplete", "list", "/api/v1/nodes", alice,
		`{"resource":"nodes","apiVersion":"v1"}`,
		`"responseObject":{"kind":"NodeList","metadata":{"resourceVersion":"9"},"items":[{"metadata":{"name":"n1",`+mf+`}},{"metadata":{"name":"n2",`+mf+`}}]}`),
	/* 8 */ ev("table", "RequestResponse", "ResponseComplete", "list", "/api/v1/nodes", alice,
		`{"resource":"nodes","apiVersion":"v1"}`,
		`"responseObject":{"kind":"Table","apiVersion":"meta.k8s.io/v1","columnDefinitions":[],"rows":[{"cells":["n1"],"object":{"kind":"PartialObjectMetadata","metadata":{"name":"n1",`+mf+`}}}]}`),
	/* 9 */ ev("capped", "Metadata", "ResponseComplete", "get", "/api/v1/nodes/n1", alice,
		`{"resource":"nodes","name":"n1","apiVersion":"v1"}`, ""),
	/* 10 */ ev("anon", "Metadata", "ResponseComplete", "get", "/version", anon, "", ""),
	/* 11 */ ev("niluser", "Metadata", "ResponseStarted", "get", "/version", `{}`, "", ""),
	/* 12 */ ev("received", "RequestResponse", "RequestReceived", "create", "/api/v1/namespaces/a/secrets", alice,
		`{"resource":"secrets","namespace":"a","apiVersion":"v1"}`, ""),
	/* 13 */ `{not json`,
	/* 14 */ ev("badlevel", "Everything", "ResponseComplete", "get", "/version", anon, "", ""),
	/* 15 */ ``,
	/* 16 */ ev("groupsonly", "Metadata", "ResponseComplete", "get", "/version", `{"groups":["system:unauthenticated"]}`, "", ""),
}, "\n") + "\n"

var expectedDecisions = []decisionLine{
	{1, "healthz", "ResponseComplete", "None", false},
	{2, "secret", "ResponseComplete", "Metadata", false},
	{3, "patch", "ResponseComplete", "RequestResponse", false},
	{4, "pod", "ResponseComplete", "Request", false},
	{5, "watch", "ResponseStarted", "Request", true},
	{6, "cm", "ResponseComplete", "RequestResponse", false},
	{7, "nodelist", "ResponseComplete", "RequestResponse", false},
	{8, "table", "ResponseComplete", "RequestResponse", false},
	{9, "capped", "ResponseComplete", "Metadata", false},
	{10, "anon", "ResponseComplete", "Metadata", false},
	{11, "niluser", "ResponseStarted", "None", false},
	{12, "received", "RequestReceived", "Metadata", true},
	{16, "groupsonly", "ResponseComplete", "Metadata", false},
}

func runFilter(t *testing.T, extra ...string) (string, string, int) {
	t.Helper()
	policyPath := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(policyPath, []byte(testPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"--policy", policyPath}, extra...), strings.NewReader(testInput), &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func checkBadLinesReported(t *testing.T, stderr string, code int) {
	t.Helper()
	if code != exitBadLines {
		t.Errorf("exit %d, want %d", code, exitBadLines)
	}
	for _, want := range []string{"<stdin>:13: not an audit event", `<stdin>:14: level "Everything"`} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestDecisions(t *testing.T) {
	stdout, stderr, code := runFilter(t, "--decisions")
	checkBadLinesReported(t, stderr, code)
	var got []decisionLine
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var d decisionLine
		if err := json.Unmarshal([]byte(line), &d); err != nil {
			t.Fatalf("bad decision line %q: %v", line, err)
		}
		got = append(got, d)
	}
	if !reflect.DeepEqual(got, expectedDecisions) {
		t.Errorf("decisions:\n got %+v\nwant %+v", got, expectedDecisions)
	}
}

func TestLevelCuts(t *testing.T) {
	stdout, stderr, code := runFilter(t, "--stats")
	checkBadLinesReported(t, stderr, code)
	kept := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad output line %q: %v", line, err)
		}
		kept[m["auditID"].(string)] = m
	}
	var keptIDs []string
	for _, d := range expectedDecisions {
		if d.Level != "None" && !d.Omitted {
			keptIDs = append(keptIDs, d.AuditID)
		}
	}
	if len(kept) != len(keptIDs) {
		t.Fatalf("%d events out, want %d (%v)", len(kept), len(keptIDs), keptIDs)
	}
	for _, d := range expectedDecisions {
		if _, ok := kept[d.AuditID]; ok && kept[d.AuditID]["level"] != d.Level {
			t.Errorf("%s: level %v, want %s", d.AuditID, kept[d.AuditID]["level"], d.Level)
		}
	}
	body := func(id, field string) string {
		v, ok := kept[id][field]
		if !ok {
			return "<absent>"
		}
		data, _ := json.Marshal(v)
		return string(data)
	}
	for _, c := range []struct {
		id, field string
		hasMF     bool // false: absent or without managedFields
		present   bool
	}{
		{"secret", "requestObject", false, false},
		{"secret", "responseObject", false, false},
		{"patch", "requestObject", true, true}, // a patch body is stored raw
		{"patch", "responseObject", false, true},
		{"pod", "requestObject", false, true},
		{"pod", "responseObject", false, false}, // Request level
		{"cm", "requestObject", true, true},     // the rule's omitManagedFields: false wins
		{"cm", "responseObject", true, true},
		{"nodelist", "responseObject", false, true},
		{"table", "responseObject", false, true},
	} {
		got := body(c.id, c.field)
		if present := got != "<absent>"; present != c.present {
			t.Errorf("%s.%s present=%v, want %v: %s", c.id, c.field, present, c.present, got)
		}
		if hasMF := strings.Contains(got, "managedFields"); hasMF != c.hasMF {
			t.Errorf("%s.%s has managedFields=%v, want %v: %s", c.id, c.field, hasMF, c.hasMF, got)
		}
	}
	if got := body("nodelist", "responseObject"); !strings.Contains(got, `"name":"n2"`) {
		t.Errorf("list items lost: %s", got)
	}
	if !strings.Contains(stderr, `"kept":9,`) || !strings.Contains(stderr, `"bad_lines":2,`) {
		t.Errorf("--stats line wrong:\n%s", stderr)
	}
}

func TestUsageAndPolicyErrors(t *testing.T) {
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.yaml")
	if err := os.WriteFile(invalid, []byte("apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n  - level: Sometimes\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args     []string
		contains string
	}{
		{nil, "--policy is required"},
		{[]string{"--policy", filepath.Join(dir, "absent.yaml")}, "absent.yaml"},
		{[]string{"--policy", invalid}, `rules[0].level: Unsupported value: "Sometimes"`},
		{[]string{"--policy", invalid, "a", "b"}, "one input file at most"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, strings.NewReader(""), &stdout, &stderr); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", c.args, code, exitUsage)
		}
		if !strings.Contains(stderr.String(), c.contains) {
			t.Errorf("%v: stderr lacks %q:\n%s", c.args, c.contains, stderr.String())
		}
	}
}

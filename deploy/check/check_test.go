package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCheck(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestValidSourcesPass(t *testing.T) {
	for _, source := range []string{"testdata/valid", "testdata/valid/service.yaml", "testdata/valid/monitoring.yaml"} {
		stdout, stderr, code := runCheck(t, source)
		if code != exitOK || stderr != "" {
			t.Errorf("%s: exit %d, stderr:\n%s", source, code, stderr)
		}
		if !strings.Contains(stdout, source+": ok") {
			t.Errorf("%s: stdout %q", source, stdout)
		}
	}
	// Deployment, Service, PodDisruptionBudget, ServiceMonitor, PodMonitor and the
	// generated ConfigMap.
	if stdout, _, _ := runCheck(t, "testdata/valid"); !strings.Contains(stdout, "(6 objects)") {
		t.Errorf("the kustomization should render 6 objects: %q", stdout)
	}
}

// expectProblems runs the checker on source and checks exit 1 and that every
// fragment appears in one stderr line (file, object and field together).
func expectProblems(t *testing.T, source string, lines ...[]string) {
	t.Helper()
	stdout, stderr, code := runCheck(t, source)
	if code != exitProblems {
		t.Errorf("%s: exit %d, want %d\nstdout: %s\nstderr: %s", source, code, exitProblems, stdout, stderr)
	}
	for _, fragments := range lines {
		found := false
		for _, line := range strings.Split(stderr, "\n") {
			all := true
			for _, f := range fragments {
				all = all && strings.Contains(line, f)
			}
			found = found || all
		}
		if !found {
			t.Errorf("%s: no stderr line has all of %q:\n%s", source, fragments, stderr)
		}
	}
}

func TestTypoInKustomizationFails(t *testing.T) {
	expectProblems(t, "testdata/typo", []string{
		"testdata/typo/deployment.yaml: apps/v1 Deployment auditpipe:",
		`unknown field "spec.replica"`,
		`unknown field "spec.template.spec.contianers"`,
	})
}

func TestKustomizationErrorsNameFileObjectAndField(t *testing.T) {
	expectProblems(t, "testdata/kustomize-errors",
		[]string{"testdata/kustomize-errors/configmap.yaml: v1 ConfigMap duplicated:", `mapping key "data" already defined`},
		[]string{"testdata/kustomize-errors/widget.yaml: example.com/v1 Widget w:", `unknown kind: kind "Widget"`},
		[]string{"testdata/kustomize-errors/service.yaml: v1 Service wrong-type:", "ServicePort.spec.ports.port of type int32"},
	)
}

func TestPlainFileErrors(t *testing.T) {
	cases := map[string][]string{
		"testdata/files/duplicate-field.yaml": {"duplicate-field.yaml:8: v1 ConfigMap duplicated:", `line 15: key "data" already set`},
		"testdata/files/wrong-type.yaml":      {"wrong-type.yaml:1: v1 Service wrong-type:", "spec.ports.port of type int32"},
		"testdata/files/unknown-kind.yaml":    {"unknown-kind.yaml:1: example.com/v1 Widget w:", "unknown kind"},
		"testdata/files/podmonitor-typo.yaml": {"monitoring.coreos.com/v1 PodMonitor typo:", `unknown field "spec.podMetricsEndpoint"`},
		"testdata/files/list.yaml":            {"list.yaml:1 (items[1]): v1 ServiceAccount typo:", `unknown field "automountServiceAccountTokens"`},
		"testdata/files/pod.json":             {"pod.json:1: v1 Pod json-pod:", `duplicate field "spec.containers[0].imagePullPolicy"`},
	}
	for source, fragments := range cases {
		t.Run(filepath.Base(source), func(t *testing.T) { expectProblems(t, source, fragments) })
	}
	// The first ConfigMap of duplicate-field.yaml is valid and must not be reported.
	if _, stderr, _ := runCheck(t, "testdata/files/duplicate-field.yaml"); strings.Contains(stderr, "first") {
		t.Errorf("a valid document was reported:\n%s", stderr)
	}
}

func TestBadSources(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, []byte("# nothing\n---\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	expectProblems(t, "testdata/absent.yaml", []string{"testdata/absent.yaml:", "no such file"})
	expectProblems(t, "testdata/files", []string{"testdata/files:", "without kustomization.yaml"})
	expectProblems(t, empty, []string{empty + ": no objects"})
	if _, _, code := runCheck(t); code != exitUsage {
		t.Errorf("no arguments: exit %d, want %d", code, exitUsage)
	}
}

func TestSeveralSourcesAllReported(t *testing.T) {
	stdout, stderr, code := runCheck(t, "testdata/valid", "testdata/typo", "testdata/files/wrong-type.yaml")
	if code != exitProblems {
		t.Errorf("exit %d, want %d", code, exitProblems)
	}
	if !strings.Contains(stdout, "testdata/valid: ok") || !strings.Contains(stderr, "spec.replica") ||
		!strings.Contains(stderr, "wrong-type.yaml") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", stdout, stderr)
	}
}

package main

import (
	"strings"
	"testing"
)

func TestTheRepositoryDockerfileIsClean(t *testing.T) {
	if problems := check("../../../Dockerfile"); len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
}

func TestProblemsAreReportedWithTheirLine(t *testing.T) {
	cases := map[string]string{
		"testdata/bad-mount.dockerfile":  "testdata/bad-mount.dockerfile:3: unexpected key 'sorce'",
		"testdata/lint.dockerfile":       "testdata/lint.dockerfile:1: FromAsCasing",
		"testdata/bad-syntax.dockerfile": "unknown instruction: RUNN",
	}
	for path, want := range cases {
		problems := check(path)
		if len(problems) == 0 || !strings.Contains(strings.Join(problems, "\n"), want) {
			t.Errorf("%s: want a problem containing %q, got %v", path, want, problems)
		}
	}
}

// Command dockerfile-check parses Dockerfiles with BuildKit's own front end, as
// `docker build` would before running anything, for CI machines without Docker:
// the parser, the instruction parser with BuildKit's linter (every rule it checks
// while parsing), and each RUN line's --mount flags. Any error or lint warning is
// reported with its line and makes the exit status 1.
//
//	cd deploy/container/dockerfile-check && GOWORK=off go run . ../../../Dockerfile
//
// A module of its own, outside the repository's go.work: BuildKit's dependencies would
// otherwise raise versions shared with the other Go modules (tests/apiserver builds
// with kube-apiserver's own pins). make dockerfile-check runs it.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: dockerfile-check Dockerfile...")
		os.Exit(2)
	}
	failed := false
	for _, path := range os.Args[1:] {
		problems := check(path)
		for _, p := range problems {
			fmt.Fprintln(os.Stderr, p)
		}
		if len(problems) > 0 {
			failed = true
		} else {
			fmt.Printf("%s: ok\n", path)
		}
	}
	if failed {
		os.Exit(1)
	}
}

// check returns every problem BuildKit finds in the Dockerfile at path, as "path:line: message".
func check(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	defer f.Close()
	return checkReader(path, f)
}

func checkReader(path string, r io.Reader) []string {
	var problems []string
	at := func(ranges []parser.Range) string {
		if len(ranges) == 0 {
			return path
		}
		return fmt.Sprintf("%s:%d", path, ranges[0].Start.Line)
	}
	res, err := parser.Parse(r)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", path, err)}
	}
	for _, w := range res.Warnings {
		where := path
		if w.Location != nil {
			where = fmt.Sprintf("%s:%d", path, w.Location.Start.Line)
		}
		problems = append(problems, fmt.Sprintf("%s: %s", where, w.Short))
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, message string, location []parser.Range) {
		problems = append(problems, fmt.Sprintf("%s: %s: %s", at(location), rule, message))
	}})
	stages, _, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return append(problems, fmt.Sprintf("%s: %v", path, err))
	}
	for _, stage := range stages {
		for _, command := range stage.Commands {
			run, ok := command.(*instructions.RunCommand)
			if !ok {
				continue
			}
			// Build arguments are not known here: expanding words as written still
			// parses every --mount flag (type, source, target, from, ...).
			if err := run.Expand(func(word string) (string, error) { return word, nil }); err != nil {
				problems = append(problems, fmt.Sprintf("%s: %v", at(run.Location()), err))
			}
		}
	}
	return problems
}

// Command check validates Kubernetes manifests for CI: it renders kustomize
// directories in-process and decodes every object strictly into the official Go
// types (client-go's scheme and prometheus-operator's monitoring.coreos.com/v1).
// Unknown fields, wrong types, duplicate fields and unknown kinds are errors.
//
//	go run ./deploy/check [-q] <kustomize-dir | file.yaml>...
//
// See README.md.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/runtime"
)

const (
	exitOK       = 0
	exitProblems = 1 // some object is invalid, or a source could not be read or built
	exitUsage    = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print problems only, not the per-source summary")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: check [-q] <kustomize-dir | manifest.yaml>...")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}
	decoder := newStrictDecoder()
	failed := false
	for _, source := range fs.Args() {
		checked, problems := checkSource(decoder, source)
		for _, p := range problems {
			fmt.Fprintln(stderr, p.String())
		}
		if len(problems) > 0 {
			failed = true
		} else if !*quiet {
			fmt.Fprintf(stdout, "%s: ok (%d objects)\n", source, checked)
		}
	}
	if failed {
		return exitProblems
	}
	return exitOK
}

// checkSource checks a kustomize directory or a manifest file. It returns how
// many objects were checked and the problems found.
func checkSource(decoder runtime.Decoder, source string) (int, []objectProblem) {
	info, err := os.Stat(source)
	if err != nil {
		return 0, []objectProblem{{where: source, message: err.Error()}}
	}
	var objects []renderedObject
	if info.IsDir() {
		if !isKustomizeDir(source) {
			return 0, []objectProblem{{where: source, message: "a directory without kustomization.yaml (give manifest files one by one)"}}
		}
		objects, err = renderKustomization(source)
		if err != nil {
			return 0, []objectProblem{{where: source, message: err.Error()}}
		}
	} else {
		data, err := os.ReadFile(source)
		if err != nil {
			return 0, []objectProblem{{where: source, message: err.Error()}}
		}
		objects = yamlDocuments(data)
		for i := range objects {
			objects[i].where = source + objects[i].where
		}
	}
	if len(objects) == 0 {
		return 0, []objectProblem{{where: source, message: "no objects"}}
	}
	var problems []objectProblem
	for _, obj := range objects {
		if obj.err != nil {
			problems = append(problems, objectProblem{where: obj.where, object: obj.name, message: obj.err.Error()})
			continue
		}
		problems = append(problems, checkObject(decoder, obj.yaml, obj.where)...)
	}
	return len(objects), problems
}

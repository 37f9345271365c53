package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizationNames are the file names kustomize accepts for a kustomization.
var kustomizationNames = []string{"kustomization.yaml", "kustomization.yml", "Kustomization"}

func isKustomizeDir(dir string) bool {
	for _, name := range kustomizationNames {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	return false
}

// renderedObject is one object of a source, as YAML, with where it came from.
type renderedObject struct {
	where string
	yaml  []byte
	// err is set, with name, when the object could not even be serialized.
	name string
	err  error
}

// renderKustomization builds dir in-process as `kustomize build dir` would, and
// returns each resource with the file it came from.
//
// To learn that file, dir is built through a throwaway overlay that only adds
// `buildMetadata: [originAnnotations]`: kustomize then records each resource's
// source path, which is read and removed again before checking.
func renderKustomization(dir string) ([]renderedObject, error) {
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	overlay, err := os.MkdirTemp("", "deploy-check-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(overlay)
	// kustomize takes no absolute path as a resource.
	base, err := filepath.Rel(overlay, absDir)
	if err != nil {
		return nil, err
	}
	kustomization := fmt.Sprintf("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n"+
		"resources:\n- %q\nbuildMetadata: [originAnnotations]\n", filepath.ToSlash(base))
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(kustomization), 0o600); err != nil {
		return nil, err
	}
	resources, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), overlay)
	if err != nil {
		return nil, fmt.Errorf("kustomize build %s: %w", dir, err)
	}
	var objects []renderedObject
	for _, res := range resources.Resources() {
		where := originOf(res, overlay, dir)
		if err := res.SetOrigin(nil); err != nil {
			return nil, err
		}
		if len(res.GetAnnotations()) == 0 {
			if err := res.SetAnnotations(nil); err != nil {
				return nil, err
			}
		}
		data, err := res.AsYAML()
		if err != nil {
			// kustomize keeps a duplicated key in its tree; serializing it fails.
			id := res.GetGvk()
			gvk := schema.GroupVersionKind{Group: id.Group, Version: id.Version, Kind: id.Kind}
			objects = append(objects, renderedObject{where: where, name: objectName(&gvk, res.GetNamespace(), res.GetName()),
				err: fmt.Errorf("%w (line numbers within the rendered object)", err)})
			continue
		}
		objects = append(objects, renderedObject{where: where, yaml: data})
	}
	return objects, nil
}

// originOf is the resource's source file as a path relative to the working
// directory when possible, or the kustomize directory when kustomize did not say
// (e.g. a generated ConfigMap names the kustomization that configured it).
func originOf(res *resource.Resource, overlay, dir string) string {
	origin, err := res.GetOrigin()
	if err != nil || origin == nil {
		return dir
	}
	path := origin.Path
	if path == "" {
		path = origin.ConfiguredIn
	}
	if path == "" {
		return dir
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(overlay, path)
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

// yamlDocuments splits a YAML stream at `---` lines, keeping each document's
// first line number. Documents holding only comments or blanks are skipped.
func yamlDocuments(data []byte) []renderedObject {
	var docs []renderedObject
	var current bytes.Buffer
	start, lineNo := 1, 0
	flush := func() {
		if hasContent(current.Bytes()) {
			// Blank lines in front make the YAML parser's line numbers the file's.
			doc := append(bytes.Repeat([]byte("\n"), start-1), current.Bytes()...)
			docs = append(docs, renderedObject{where: fmt.Sprintf(":%d", start), yaml: doc})
		}
		current.Reset()
	}
	scanner := bufio.NewScanner(bytes.NewReader(data))
	scanner.Buffer(make([]byte, 0, 64*1024), len(data)+1)
	for scanner.Scan() {
		lineNo++
		line := scanner.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			flush()
			start = lineNo + 1
			continue
		}
		current.WriteString(line)
		current.WriteByte('\n')
	}
	flush()
	return docs
}

func hasContent(doc []byte) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			return true
		}
	}
	return false
}

package main

import (
	"fmt"
	"strings"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// newStrictDecoder decodes YAML or JSON into the official Go types of every
// built-in API group (client-go's scheme) and of monitoring.coreos.com/v1
// (prometheus-operator). Strict: unknown and duplicate fields are errors.
func newStrictDecoder() runtime.Decoder {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(monitoringv1.AddToScheme(scheme))
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}

// objectProblem is one finding: where, which object, what.
type objectProblem struct {
	where   string // file[:line], or the kustomize directory
	object  string // "apps/v1 Deployment ns/name", when known
	message string
}

// String is the problem on one line (YAML errors come on several).
func (p objectProblem) String() string {
	lines := strings.Split(p.message, "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	message := strings.Join(lines, " ")
	if p.object == "" {
		return fmt.Sprintf("%s: %s", p.where, message)
	}
	return fmt.Sprintf("%s: %s: %s", p.where, p.object, message)
}

// objectName describes an object for messages, from its raw header.
func objectName(gvk *schema.GroupVersionKind, namespace, name string) string {
	var b strings.Builder
	if gvk != nil {
		if v := gvk.GroupVersion().String(); v != "" {
			b.WriteString(v + " ")
		}
		b.WriteString(gvk.Kind)
	}
	if name != "" {
		b.WriteString(" ")
		if namespace != "" {
			b.WriteString(namespace + "/")
		}
		b.WriteString(name)
	}
	return strings.TrimSpace(b.String())
}

// header is what a message needs to name an object; read leniently, apart from
// the strict decoding.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

func readHeader(data []byte) (header, *schema.GroupVersionKind) {
	var h header
	if err := yaml.Unmarshal(data, &h); err != nil || h.Kind == "" {
		return h, nil
	}
	gvk := schema.FromAPIVersionAndKind(h.APIVersion, h.Kind)
	return h, &gvk
}

// checkObject strictly decodes one object (YAML or JSON) and returns its problems.
// A v1 List is checked item by item.
func checkObject(decoder runtime.Decoder, data []byte, where string) []objectProblem {
	h, gvk := readHeader(data)
	name := objectName(gvk, h.Metadata.Namespace, h.Metadata.Name)
	obj, _, err := decoder.Decode(data, nil, nil)
	if err != nil {
		return []objectProblem{{where: where, object: name, message: describeDecodeError(err, gvk)}}
	}
	list, ok := obj.(*corev1.List)
	if !ok {
		return nil
	}
	var problems []objectProblem
	for i, item := range list.Items {
		itemWhere := fmt.Sprintf("%s (items[%d])", where, i)
		problems = append(problems, checkObject(decoder, item.Raw, itemWhere)...)
	}
	return problems
}

func describeDecodeError(err error, gvk *schema.GroupVersionKind) string {
	switch {
	case runtime.IsNotRegisteredError(err):
		kind := "this object"
		if gvk != nil {
			kind = fmt.Sprintf("kind %q in %q", gvk.Kind, gvk.GroupVersion().String())
		}
		return fmt.Sprintf("unknown kind: %s is neither a built-in Kubernetes type nor in monitoring.coreos.com/v1", kind)
	case runtime.IsMissingKind(err) || runtime.IsMissingVersion(err):
		return "not a Kubernetes object: " + err.Error()
	}
	// Strict errors read "strict decoding error: unknown field "spec.replica", ...";
	// type errors name the Go field and the JSON path.
	return err.Error()
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/runtime"
	auditinternal "k8s.io/apiserver/pkg/apis/audit"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"k8s.io/apiserver/pkg/audit"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	kjson "sigs.k8s.io/json"
)

// decision is what the policy makes of one event.
type decision struct {
	// level is the applied level: the policy's, capped at the recorded one; None
	// when the policy says None.
	level auditinternal.Level
	// omitted is true when the event's stage is among the evaluator's omitStages.
	omitted bool
	// omitManagedFields is the evaluator's answer for the request.
	omitManagedFields bool
}

// kept tells whether the event is written out.
func (d decision) kept() bool {
	return d.level != auditinternal.LevelNone && !d.omitted
}

// attributes are the authorizer attributes kube-apiserver evaluated the policy
// with, rebuilt from the recorded event: an empty user (no name, no groups) is
// the nil user of a failed authentication; objectRef present means a resource
// request; the path is requestURI without its query.
func attributes(ev *auditv1.Event) authorizer.AttributesRecord {
	attrs := authorizer.AttributesRecord{Verb: ev.Verb}
	if ev.User.Username != "" || len(ev.User.Groups) > 0 {
		extra := make(map[string][]string, len(ev.User.Extra))
		for k, v := range ev.User.Extra {
			extra[k] = v
		}
		attrs.User = &user.DefaultInfo{Name: ev.User.Username, UID: ev.User.UID, Groups: ev.User.Groups, Extra: extra}
	}
	attrs.Path, _, _ = strings.Cut(ev.RequestURI, "?")
	if ref := ev.ObjectRef; ref != nil {
		attrs.ResourceRequest = true
		attrs.Namespace = ref.Namespace
		attrs.APIGroup = ref.APIGroup
		attrs.APIVersion = ref.APIVersion
		attrs.Resource = ref.Resource
		attrs.Subresource = ref.Subresource
		attrs.Name = ref.Name
	}
	return attrs
}

// knownLevel and knownStage reject values kube-apiserver never writes: an
// unknown recorded level would otherwise rank as None and silently drop the event.
func knownLevel(l auditv1.Level) bool {
	switch l {
	case auditv1.LevelNone, auditv1.LevelMetadata, auditv1.LevelRequest, auditv1.LevelRequestResponse:
		return true
	}
	return false
}

func knownStage(s auditv1.Stage) bool {
	switch s {
	case auditv1.StageRequestReceived, auditv1.StageResponseStarted, auditv1.StageResponseComplete, auditv1.StagePanic:
		return true
	}
	return false
}

// decide evaluates the policy for ev as kube-apiserver would have.
func decide(evaluator audit.PolicyRuleEvaluator, ev *auditv1.Event) decision {
	cfg := evaluator.EvaluatePolicyRule(attributes(ev))
	level := cfg.Level
	if recorded := auditinternal.Level(ev.Level); recorded.Less(level) {
		level = recorded // a body the apiserver did not record cannot be restored
	}
	omitted := false
	for _, stage := range cfg.OmitStages {
		if string(stage) == string(ev.Stage) {
			omitted = true
			break
		}
	}
	return decision{level: level, omitted: omitted, omitManagedFields: cfg.OmitManagedFields}
}

// applyLevel cuts ev down to d's level in place: Metadata drops both objects,
// Request drops the response object. With omitManagedFields it removes
// metadata.managedFields from the objects kept, except from a patch's request
// body, which kube-apiserver stores raw (LogRequestPatch).
func applyLevel(ev *auditv1.Event, d decision) error {
	if d.level.Less(auditinternal.LevelRequest) {
		ev.RequestObject = nil
	}
	if d.level.Less(auditinternal.LevelRequestResponse) {
		ev.ResponseObject = nil
	}
	ev.Level = auditv1.Level(d.level)
	if !d.omitManagedFields {
		return nil
	}
	if ev.RequestObject != nil && ev.Verb != "patch" {
		if err := dropManagedFields(ev.RequestObject); err != nil {
			return fmt.Errorf("requestObject: %w", err)
		}
	}
	if ev.ResponseObject != nil {
		if err := dropManagedFields(ev.ResponseObject); err != nil {
			return fmt.Errorf("responseObject: %w", err)
		}
	}
	return nil
}

var managedFieldsKey = []byte(`"managedFields"`)

// dropManagedFields removes metadata.managedFields from a recorded object, as
// kube's copyWithoutManagedFields does for typed objects: the object itself,
// every item of a list, and the object of every Table row. Bodies that are not
// JSON objects are kept unchanged, as kube keeps objects it cannot access.
func dropManagedFields(obj *runtime.Unknown) error {
	if !bytes.Contains(obj.Raw, managedFieldsKey) {
		return nil
	}
	var body map[string]any
	if err := kjson.UnmarshalCaseSensitivePreserveInts(obj.Raw, &body); err != nil {
		return nil // not an object (e.g. a JSON array): unchanged
	}
	changed := dropFromObject(body)
	if items, ok := body["items"].([]any); ok {
		for _, item := range items {
			if m, ok := item.(map[string]any); ok {
				changed = dropFromObject(m) || changed
			}
		}
	}
	if body["kind"] == "Table" {
		if rows, ok := body["rows"].([]any); ok {
			for _, row := range rows {
				if r, ok := row.(map[string]any); ok {
					if m, ok := r["object"].(map[string]any); ok {
						changed = dropFromObject(m) || changed
					}
				}
			}
		}
	}
	if !changed {
		return nil
	}
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	obj.Raw = raw
	return nil
}

func dropFromObject(obj map[string]any) bool {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return false
	}
	if _, ok := meta["managedFields"]; !ok {
		return false
	}
	delete(meta, "managedFields")
	return true
}

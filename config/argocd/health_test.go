package argocd

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
	"sigs.k8s.io/yaml"
)

// health runs the script the way Argo CD does: obj is a global table decoded
// from the object's JSON, and the script's return value is the health table.
func health(t *testing.T, script, objJSON string) (status, message string) {
	t.Helper()
	var obj map[string]any
	if err := json.Unmarshal([]byte(objJSON), &obj); err != nil {
		t.Fatalf("bad test object: %v", err)
	}
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	// Argo CD opens the safe standard libraries only.
	for _, lib := range []struct {
		name string
		fn   lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		l.Push(l.NewFunction(lib.fn))
		l.Push(lua.LString(lib.name))
		l.Call(1, 0)
	}
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		t.Fatalf("the script failed: %v", err)
	}
	hs, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		t.Fatalf("the script returned %s, want a table", l.Get(-1).Type())
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message"))
}

func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	default:
		panic(fmt.Sprintf("toLua: %T", v))
	}
}

// object builds an ImageConfig of generation gen with the given status JSON
// (empty: no status) and spec.suspend.
func object(gen int, suspend bool, status string) string {
	s := fmt.Sprintf(`{"apiVersion":"images.imageconfig.dev/v1alpha1","kind":"ImageConfig","metadata":{"name":"nginx","namespace":"default","generation":%d},"spec":{"repository":"nginx","tag":"1.27","suspend":%t}`, gen, suspend)
	if status != "" {
		s += `,"status":` + status
	}
	return s + "}"
}

const (
	readyTrue       = `{"type":"Ready","status":"True","reason":"Resolved","message":"Resolved index.docker.io/library/nginx:1.27 to sha256:abc for linux/amd64","observedGeneration":%d}`
	readyFalse      = `{"type":"Ready","status":"False","reason":"%s","message":"%s","observedGeneration":%d}`
	reconcilingTrue = `{"type":"Reconciling","status":"True","reason":"Progressing","message":"Retrying: registry unavailable","observedGeneration":%d}`
	stalledTrue     = `{"type":"Stalled","status":"True","reason":"NotFound","message":"tag 9.9 not found","observedGeneration":%d}`
	readySuspended  = `{"type":"Ready","status":"Unknown","reason":"Suspended","message":"Suspended: spec.suspend is true, so the registry is not contacted","observedGeneration":%d}`
)

func conds(observedGeneration int, cs ...string) string {
	og := ""
	if observedGeneration > 0 {
		og = fmt.Sprintf(`"observedGeneration":%d,`, observedGeneration)
	}
	return `{` + og + `"conditions":[` + strings.Join(cs, ",") + `]}`
}

func TestHealth(t *testing.T) {
	tests := []struct {
		name        string
		obj         string
		wantStatus  string
		wantMessage string
	}{
		{"ready", object(2, false, conds(2, fmt.Sprintf(readyTrue, 2))), "Healthy", "Resolved index.docker.io/library/nginx:1.27"},
		{"reconciling after a transient error", object(1, false, conds(0, fmt.Sprintf(readyFalse, "Unavailable", "registry unavailable", 1), fmt.Sprintf(reconcilingTrue, 1))), "Progressing", "Retrying: registry unavailable"},
		{"reconciling with an older resolution", object(3, false, conds(2, fmt.Sprintf(readyFalse, "RateLimited", "429", 3), fmt.Sprintf(reconcilingTrue, 3))), "Progressing", "Retrying"},
		{"stalled", object(1, false, conds(0, fmt.Sprintf(readyFalse, "NotFound", "tag 9.9 not found", 1), fmt.Sprintf(stalledTrue, 1))), "Degraded", "NotFound: tag 9.9 not found"},
		{"stalled for an older generation is being re-checked", object(2, false, conds(0, fmt.Sprintf(readyFalse, "NotFound", "tag 9.9 not found", 1), fmt.Sprintf(stalledTrue, 1))), "Progressing", "generation 2"},
		{"suspended, resolved before", object(1, true, conds(1, fmt.Sprintf(readyTrue, 1))), "Suspended", "spec.suspend is true"},
		{"suspended, never resolved", object(1, true, conds(0, fmt.Sprintf(readySuspended, 1))), "Suspended", "spec.suspend is true"},
		{"no status yet", object(1, false, ""), "Progressing", "Waiting for the controller"},
		{"empty conditions", object(1, false, `{"conditions":[]}`), "Progressing", "Waiting for the controller"},
		{"spec edited: Ready is for the previous generation", object(3, false, conds(2, fmt.Sprintf(readyTrue, 2))), "Progressing", "observe generation 3"},
		{"status.observedGeneration behind a current Ready", object(3, false, conds(2, fmt.Sprintf(readyTrue, 3))), "Progressing", "resolve generation 3"},
		{"resumed: Ready still says Suspended for the old generation", object(2, false, conds(0, fmt.Sprintf(readySuspended, 1))), "Progressing", "observe generation 2"},
		{"Ready=False without Stalled or Reconciling", object(1, false, conds(0, fmt.Sprintf(readyFalse, "InvalidReference", "bad reference", 1))), "Degraded", "InvalidReference: bad reference"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, msg := health(t, HealthLua, tt.obj)
			if status != tt.wantStatus || !strings.Contains(msg, tt.wantMessage) {
				t.Errorf("health = %s %q, want %s with %q", status, msg, tt.wantStatus, tt.wantMessage)
			}
		})
	}
}

// TestConfigMapSnippet checks that argocd-cm.yaml carries health.lua unchanged,
// under the key Argo CD reads for this group and kind.
func TestConfigMapSnippet(t *testing.T) {
	var cm struct {
		Kind     string                `json:"kind"`
		Metadata struct{ Name string } `json:"metadata"`
		Data     map[string]string     `json:"data"`
	}
	if err := yaml.Unmarshal([]byte(ConfigMapYAML), &cm); err != nil {
		t.Fatal(err)
	}
	if cm.Kind != "ConfigMap" || cm.Metadata.Name != "argocd-cm" {
		t.Errorf("argocd-cm.yaml is a %s named %q, want the ConfigMap argocd-cm", cm.Kind, cm.Metadata.Name)
	}
	const key = "resource.customizations.health.images.imageconfig.dev_ImageConfig"
	got, ok := cm.Data[key]
	if !ok {
		t.Fatalf("argocd-cm.yaml has no %s; keys: %v", key, cm.Data)
	}
	if got != HealthLua {
		t.Errorf("argocd-cm.yaml's script differs from health.lua; copy health.lua into it, indented by 4 spaces")
	}
	// The snippet's copy must behave like the file.
	if status, _ := health(t, got, object(1, false, conds(1, fmt.Sprintf(readyTrue, 1)))); status != "Healthy" {
		t.Errorf("the snippet's script judged a Ready object %s", status)
	}
}

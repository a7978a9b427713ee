package spec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// A "billion laughs" document: nine levels of aliases, each nine times the
// one below, expand to 9^9 values. The node budget must stop it early.
func TestAliasExpansionIsBounded(t *testing.T) {
	var b strings.Builder
	b.WriteString("apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: lol}\nspec:\n  x0: &a0 [lol]\n")
	for i := 1; i < 10; i++ {
		fmt.Fprintf(&b, "  x%d: &a%d [", i, i)
		for j := range 9 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	probs := problems(t, b.String(), Options{})
	if len(probs) != 1 || !strings.Contains(probs[0].Msg, "after expanding aliases") {
		t.Fatalf("%v", probs)
	}
}

func TestNestingIsBounded(t *testing.T) {
	deep := "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nmetadata: {name: deep}\nspec: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n"
	probs := problems(t, deep, Options{})
	if !strings.Contains(probs[0].Msg, "nested deeper than 64 levels") {
		t.Fatalf("%v", probs)
	}
}

func TestSizeIsBounded(t *testing.T) {
	big := bytes.Repeat([]byte("#"), 2000)
	probs := problems(t, string(big), Options{Limits: Limits{MaxBytes: 1000}})
	if !strings.Contains(probs[0].Msg, "more than the limit of 1000") {
		t.Fatalf("%v", probs)
	}
	if _, err := DecodeReader(bytes.NewReader(big), Options{Limits: Limits{MaxBytes: 1000}}); !errors.Is(err, errLimit) {
		t.Errorf("DecodeReader: %v", err)
	}
}

func TestDocumentCountIsBounded(t *testing.T) {
	many := strings.Repeat("---\n{}\n", 20)
	probs := problems(t, many, Options{Limits: Limits{MaxDocuments: 10}})
	if !strings.Contains(probs[0].Msg, "more than 10 documents") {
		t.Fatalf("%v", probs)
	}
}

func TestDuplicateKeysAndSyntaxErrors(t *testing.T) {
	probs := problems(t, "apiVersion: argoproj.io/v1alpha1\nkind: Rollout\nkind: Rollout\n", Options{})
	wantProblem(t, probs, 0, "", `key "kind" appears twice`)
	probs = problems(t, "{\"apiVersion\": \"argoproj.io/v1alpha1\",\n \"kind\": [\n", Options{})
	if !strings.Contains(probs[0].Msg, "not valid YAML or JSON") || probs[0].Doc != 0 {
		t.Fatalf("%v", probs)
	}
}

func TestUnknownKindsAndNonObjects(t *testing.T) {
	probs := problems(t, "apiVersion: argoproj.io/v1alpha1\nkind: Experiment\n---\n- a list\n---\nkind: Rollout\n", Options{})
	wantProblem(t, probs, 1, "", "want a Kubernetes resource")
	wantProblem(t, probs, 2, "", "apiVersion and kind are required")
}

func TestMergeKeys(t *testing.T) {
	res := mustDecode(t, []byte(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata: {name: m}
spec:
  metrics:
  - &base
    name: a
    successCondition: result[0] > 0
    provider:
      prometheus: {address: "http://prom:9090", query: up}
  - <<: *base
    name: b
`), Options{})
	if got := res.Templates[0].Metrics; len(got) != 2 || got[1] != "b" {
		t.Fatalf("%v", got)
	}
	checks, err := res.Checks("m", false, nil)
	if err != nil || checks[1].SuccessCondition != "result[0] > 0" {
		t.Fatalf("%v %v", checks, err)
	}
}

// Other resources in the same file are listed as ignored, not refused.
func TestOtherKindsAreIgnored(t *testing.T) {
	res := mustDecode(t, []byte("apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: 80}]}\n---\napiVersion: argoproj.io/v1alpha1\nkind: Experiment\nmetadata: {name: e}\n"), Options{})
	if len(res.Ignored) != 2 || res.Ignored[0].Doc != 0 || !strings.Contains(res.Ignored[0].Why, "v1 Service is not release policy") || res.Ignored[1].Doc != 1 {
		t.Fatalf("%v", res.Ignored)
	}
}

// An unquoted {{args.x}} parses as a mapping key; the document still
// decodes and the problem is reported where the field is.
func TestNonScalarKeys(t *testing.T) {
	probs := problems(t, "apiVersion: argoproj.io/v1alpha1\nkind: AnalysisTemplate\nmetadata: {name: t}\nspec:\n  metrics:\n  - name: m\n    count: {{args.n}}\n    provider:\n      job: {}\n", Options{})
	wantProblem(t, probs, 0, "spec.metrics[0].provider.job", "not supported")
}

package main

import (
	"bytes"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBadReleaseFromArgoSpecIsRolledBack(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, false, rolloutYAML); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		`Argo Rollout "shop" loaded`,
		"steps[2]                 -> analysis [error-rate]",
		"spec.strategy.canary.trafficRouting.nginx: ingress plugin",
		"spec.selector:",
		"ROLLED BACK: all traffic is on v1 again",
		"no request was lost",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "PROMOTED") {
		t.Errorf("the bad release was promoted:\n%s", s)
	}
}

func TestGoodReleaseFromArgoSpecIsPromoted(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, true, rolloutYAML); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	if s := out.String(); !strings.Contains(s, "PROMOTED: v2 is the stable revision now") || !strings.Contains(s, "no request was lost") {
		t.Errorf("not promoted:\n%s", s)
	}
}

func TestBadSpecIsRejectedBeforeAnything(t *testing.T) {
	bad := bytes.Replace(rolloutYAML, []byte("- setWeight: 25"), []byte("- setWeight: 25\n      - experiment: {templates: []}"), 1)
	var out bytes.Buffer
	err := run(t.Context(), &out, false, bad)
	if err == nil || !strings.Contains(err.Error(), "spec.strategy.canary.steps[4].experiment: not supported") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(out.String(), "release started") {
		t.Errorf("a release started from a rejected spec:\n%s", out.String())
	}
}

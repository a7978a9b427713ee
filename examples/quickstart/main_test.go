package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func shortOptions(good bool) options {
	o := defaultOptions()
	o.Good = good
	o.Interval = 400 * time.Millisecond
	return o
}

func TestBadReleaseIsRolledBack(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, shortOptions(false)); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"ROLLED BACK: all traffic is on v1 again",
		"outcome          rolled back",
		"FAIL: v2 failed",
		"evidence of a regression",
		"time to detect",
		"time to restore",
		"now              v1 serves all traffic",
		"no request was lost",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "PROMOTED") {
		t.Errorf("the bad release was promoted:\n%s", s)
	}
	// The canary served requests before it was caught: the rollback was
	// a detection, not a failure to start.
	m := regexp.MustCompile(`served by v2\s+(\d+)`).FindStringSubmatch(s)
	if m == nil || m[1] == "0" {
		t.Errorf("v2 served no request:\n%s", s)
	}
	if !regexp.MustCompile(`requests\s+(\d+) sent, (\d+) answered, 0 lost`).MatchString(s) {
		t.Errorf("requests were lost:\n%s", s)
	}
}

func TestGoodReleaseIsPromoted(t *testing.T) {
	var out bytes.Buffer
	if err := run(t.Context(), &out, shortOptions(true)); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"PROMOTED: v2 is the stable revision now",
		"outcome          promoted",
		"step analysis: PASS: v2 failed 0 of",
		"of none",
		"now              v2 serves all traffic",
		"no request was lost",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "ROLLED BACK") {
		t.Errorf("the good release was rolled back:\n%s", s)
	}
}

package analysis

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func sameConfig(a, b *Check) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb) && a.Interval == b.Interval && a.InitialDelay == b.InitialDelay &&
		a.Timeout == b.Timeout && a.ErrorRetryInterval == b.ErrorRetryInterval && a.Count == b.Count &&
		(a.ConsecutiveErrorLimit == nil) == (b.ConsecutiveErrorLimit == nil)
}

func fullCheck() *Check {
	return &Check{
		Label: "error-rate", Query: `sum(rate(errors{svc="{{args.svc}}"}[1m]))`,
		Args:             []Arg{{Name: "svc", Value: "checkout"}, {Name: "token", Value: "t", Secret: true}},
		SuccessCondition: "result[0] < 0.01", FailureCondition: "result[0] > 0.05",
		InitialDelay: 30 * time.Second, Interval: 5 * time.Minute, Count: 4,
		FailureLimit: 1, InconclusiveLimit: 2, ConsecutiveErrorLimit: new(0), ConsecutiveSuccessLimit: 3,
		MinSamples: 100, SamplesQuery: "sum(requests)", NoDataLimit: 5,
		Timeout: 20 * time.Second, ErrorRetryInterval: 15 * time.Second, HistoryLimit: 20, DryRun: true,
	}
}

func TestCheckJSONRoundTrip(t *testing.T) {
	c := fullCheck()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"interval":"5m"`, `"initialDelay":"30s"`, `"consecutiveErrorLimit":0`, `"label":"error-rate"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	got := &Check{}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(got); err != nil {
		t.Fatal(err)
	}
	if !sameConfig(got, c) || *got.ConsecutiveErrorLimit != 0 {
		t.Errorf("round trip: %s", b)
	}
}

func TestCheckYAMLRoundTrip(t *testing.T) {
	c := fullCheck()
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got := &Check{}
	if err := yaml.Unmarshal(y, got); err != nil {
		t.Fatal(err)
	}
	if !sameConfig(got, c) {
		t.Errorf("round trip:\n%s", y)
	}
}

func TestWebhookAndHTTPRoundTrip(t *testing.T) {
	w := &Webhook{Label: "gate", URL: "https://gate.example/check", Secret: []byte("k"), Header: map[string][]string{"X-Team": {"pay"}}, Timeout: 15 * time.Second}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"timeout":"15s"`) || strings.Contains(string(b), "secret") {
		t.Errorf("%s", b)
	}
	got := &Webhook{}
	if err := json.Unmarshal(b, got); err != nil || got.Label != w.Label || got.URL != w.URL || got.Timeout != w.Timeout || got.Header.Get("X-Team") != "pay" || got.Secret != nil {
		t.Errorf("%v %+v", err, got)
	}
	h := &HTTP{Header: map[string][]string{"Accept": {"application/json"}}, Path: "{$.data.rate}"}
	y, err := yaml.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	gh := &HTTP{}
	if err := yaml.Unmarshal(y, gh); err != nil || gh.Path != h.Path || gh.Header.Get("Accept") != "application/json" {
		t.Errorf("%v %+v\n%s", err, gh, y)
	}
}

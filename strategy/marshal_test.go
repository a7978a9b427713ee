package strategy

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func TestDurationString(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0s", 5 * time.Minute: "5m", time.Hour: "1h", 90 * time.Minute: "1h30m", 90 * time.Second: "1m30s",
		250 * time.Millisecond: "250ms", time.Hour + time.Second: "1h0m1s", -time.Minute: "-1m",
	} {
		if got := Duration(d).String(); got != want {
			t.Errorf("%v: %q, want %q", d, got, want)
		}
		var back Duration
		if err := back.UnmarshalText([]byte(Duration(d).String())); err != nil || time.Duration(back) != d {
			t.Errorf("%v does not round-trip: %v %v", d, back, err)
		}
	}
}

func TestOptionsRoundTrip(t *testing.T) {
	o := Options{ProgressDeadline: 15 * time.Minute, PollInterval: 2 * time.Second, RetryInitial: 50 * time.Millisecond,
		RetryMax: 5 * time.Second, RetryBudget: time.Minute, OnFail: Policy{Pause: true, Allowed: 2},
		OnDeadline: Policy{Pause: true}, OnCancel: Policy{Leave: true}, RollbackTimeout: 3 * time.Minute, ApplyTimeout: 10 * time.Second,
		MaxVerdicts: 32, AnalysisGrace: 5 * time.Second}
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"progressDeadline":"15m"`, `"onCancel":{"leave":true}`, `"onFail":{"pause":true,"allowed":2}`, `"onDeadline":{"pause":true}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var got Options
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("json: %v\n got %+v\nwant %+v", err, got, o)
	}
	y, err := yaml.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	got = Options{}
	if err := yaml.Unmarshal(y, &got); err != nil || !reflect.DeepEqual(got, o) {
		t.Errorf("yaml: %v\n got %+v\nwant %+v\n%s", err, got, o, y)
	}
	if err := json.Unmarshal([]byte(`{"onCancel":"Sometimes"}`), &got); err == nil {
		t.Error("unknown cancel policy accepted")
	}
}

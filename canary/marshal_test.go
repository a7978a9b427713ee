package canary

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/glidepath/glidepath/strategy"
)

func fullConfig() Config {
	surge, unavail := strategy.Percent(25), strategy.Int(0)
	return Config{
		Steps: []Step{
			SetCanaryScale(Replicas(1)), SetHeaderRoute(strategy.HeaderRoute{Header: "X-Canary", Exact: "yes"}),
			SetWeight(10).Named("first"), Pause(90 * time.Second), SetCanaryScale(PercentOfReplicas(50)),
			SetWeight(50), PauseUntilPromoted(), SetCanaryScale(MatchTrafficWeight()),
		},
		Background:         Background{From: 2},
		Replicas:           10,
		TrafficRouting:     true,
		DynamicStableScale: true,
		MaxSurge:           &surge,
		MaxUnavailable:     &unavail,
		ProgressDeadline:   5 * time.Minute,
	}
}

func TestConfigJSONRoundTrip(t *testing.T) {
	for _, c := range []Config{fullConfig(), {StepWeight: 10, MaxWeight: 50, Interval: time.Minute}, {StepWeights: []int{1, 5, 25}, Interval: 90 * time.Second}} {
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		var got Config
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip\n got %+v\nwant %+v\njson %s", got, c, b)
		}
	}
}

func TestConfigJSONDurations(t *testing.T) {
	b, _ := json.Marshal(Config{StepWeight: 10, Interval: 5 * time.Minute, Steps: []Step{Pause(90 * time.Second)}})
	for _, want := range []string{`"interval":"5m"`, `"duration":"1m30s"`, `"kind":"pause"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var c Config
	err := json.Unmarshal([]byte(`{"interval": 300}`), &c)
	if err == nil || !strings.Contains(err.Error(), "duration must be a string") {
		t.Errorf("a bare number was accepted as a duration: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"interval": "5 minutes"}`), &c); err == nil {
		t.Error("a malformed duration was accepted")
	}
}

func TestConfigYAMLRoundTrip(t *testing.T) {
	c := fullConfig()
	b, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var got Config
	if err := yaml.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if !reflect.DeepEqual(got, c) {
		t.Errorf("round trip\n got %+v\nwant %+v\nyaml %s", got, c, b)
	}
	var hand Config
	if err := yaml.Unmarshal([]byte("stepWeight: 20\nmaxWeight: 60\ninterval: 1m\nmaxSurge: 25%\n"), &hand); err != nil {
		t.Fatal(err)
	}
	if hand.Interval != time.Minute || hand.StepWeight != 20 || hand.MaxSurge.String() != "25%" {
		t.Errorf("%+v", hand)
	}
}

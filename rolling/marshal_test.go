package rolling

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/glidepath/glidepath/strategy"
)

func TestConfigRoundTrip(t *testing.T) {
	s, u := strategy.Int(2), strategy.Percent(10)
	c := Config{Replicas: 12, MaxSurge: &s, MaxUnavailable: &u, MinReady: 10 * time.Second, ProgressDeadline: 10 * time.Minute, Partition: 3}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"progressDeadline":"10m"`) || !strings.Contains(string(b), `"maxUnavailable":"10%"`) {
		t.Errorf("%s", b)
	}
	var got Config
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("json: %v\n got %+v\nwant %+v", err, got, c)
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got = Config{}
	if err := yaml.Unmarshal(y, &got); err != nil || !reflect.DeepEqual(got, c) {
		t.Errorf("yaml: %v\n got %+v\nwant %+v\n%s", err, got, c, y)
	}
}

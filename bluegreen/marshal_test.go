package bluegreen

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

func TestConfigRoundTrip(t *testing.T) {
	c := Config{Replicas: 4, CanaryReplicas: 2, ManualPromotion: true, ScaleDownDelay: 2 * time.Minute,
		AbortScaleDownDelay: 30 * time.Second, ProgressDeadline: 90 * time.Second}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"scaleDownDelay":"2m"`) {
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

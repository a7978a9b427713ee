package strategy

import (
	"encoding/json"
	"fmt"
	"time"
)

// optionsDurations are the duration fields of Options in their JSON form.
type optionsDurations struct {
	ProgressDeadline Duration `json:"progressDeadline,omitempty"`
	PollInterval     Duration `json:"pollInterval,omitempty"`
	RetryInitial     Duration `json:"retryInitial,omitempty"`
	RetryMax         Duration `json:"retryMax,omitempty"`
	RetryBudget      Duration `json:"retryBudget,omitempty"`
	RollbackTimeout  Duration `json:"rollbackTimeout,omitempty"`
	ApplyTimeout     Duration `json:"applyTimeout,omitempty"`
	AnalysisGrace    Duration `json:"analysisGrace,omitempty"`
}

// MarshalJSON writes o with durations such as "10m". The Journal is not
// written: it is code, not configuration.
func (o Options) MarshalJSON() ([]byte, error) {
	type plain Options
	return json.Marshal(struct {
		plain
		optionsDurations
	}{plain(o), optionsDurations{
		Duration(o.ProgressDeadline), Duration(o.PollInterval), Duration(o.RetryInitial), Duration(o.RetryMax),
		Duration(o.RetryBudget), Duration(o.RollbackTimeout), Duration(o.ApplyTimeout), Duration(o.AnalysisGrace),
	}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (o *Options) UnmarshalJSON(b []byte) error {
	type plain Options
	aux := struct {
		*plain
		optionsDurations
	}{plain: (*plain)(o)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	d := aux.optionsDurations
	o.ProgressDeadline, o.PollInterval = time.Duration(d.ProgressDeadline), time.Duration(d.PollInterval)
	o.RetryInitial, o.RetryMax, o.RetryBudget = time.Duration(d.RetryInitial), time.Duration(d.RetryMax), time.Duration(d.RetryBudget)
	o.RollbackTimeout, o.ApplyTimeout, o.AnalysisGrace = time.Duration(d.RollbackTimeout), time.Duration(d.ApplyTimeout), time.Duration(d.AnalysisGrace)
	return nil
}

// MarshalYAML writes 3 or "25%" (for go.yaml.in/yaml/v3 and compatible
// encoders).
func (v IntOrPercent) MarshalYAML() (any, error) {
	if v.IsPercent() {
		return v.Str, nil
	}
	return v.Int, nil
}

// UnmarshalYAML reads 3 or "25%" (for go.yaml.in/yaml/v3 and compatible
// decoders).
func (v *IntOrPercent) UnmarshalYAML(unmarshal func(any) error) error {
	var n int
	if err := unmarshal(&n); err == nil {
		*v = IntOrPercent{Int: n}
		return nil
	}
	var s string
	if err := unmarshal(&s); err != nil {
		return fmt.Errorf("IntOrPercent: want an integer or a percentage like \"25%%\"")
	}
	*v = IntOrPercent{Str: s}
	return nil
}

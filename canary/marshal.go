package canary

import (
	"encoding/json"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// The JSON forms of the canary types write durations as strings such as
// "5m" (see strategy.Duration); the time.Duration fields are tagged
// `json:"-"` and carried by these methods. Analyzers are code, not
// configuration: they are not written, and a decoded config has none.

type configDurations struct {
	Interval         strategy.Duration `json:"interval,omitempty"`
	ProgressDeadline strategy.Duration `json:"progressDeadline,omitempty"`
}

// MarshalJSON writes c with durations such as "5m".
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	return json.Marshal(struct {
		plain
		configDurations
	}{plain(c), configDurations{strategy.Duration(c.Interval), strategy.Duration(c.ProgressDeadline)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Config) UnmarshalJSON(b []byte) error {
	type plain Config
	aux := struct {
		*plain
		configDurations
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	c.Interval, c.ProgressDeadline = time.Duration(aux.configDurations.Interval), time.Duration(aux.configDurations.ProgressDeadline)
	return nil
}

type stepDurations struct {
	Duration strategy.Duration `json:"duration,omitempty"`
}

// MarshalJSON writes s with its pause duration such as "30s".
func (s Step) MarshalJSON() ([]byte, error) {
	type plain Step
	return json.Marshal(struct {
		plain
		stepDurations
	}{plain(s), stepDurations{strategy.Duration(s.Duration)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Step) UnmarshalJSON(b []byte) error {
	type plain Step
	aux := struct {
		*plain
		stepDurations
	}{plain: (*plain)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	s.Duration = time.Duration(aux.stepDurations.Duration)
	return nil
}

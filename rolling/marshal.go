package rolling

import (
	"encoding/json"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// The JSON form of Config writes durations as strings such as "30s" (see
// strategy.Duration); the time.Duration fields are tagged `json:"-"` and
// carried by these methods. Analyzers are code, not configuration: they
// are not written, and a decoded config has none.

type configDurations struct {
	MinReady         strategy.Duration `json:"minReady,omitempty"`
	ProgressDeadline strategy.Duration `json:"progressDeadline,omitempty"`
}

// MarshalJSON writes c with durations such as "30s".
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	return json.Marshal(struct {
		plain
		configDurations
	}{plain(c), configDurations{strategy.Duration(c.MinReady), strategy.Duration(c.ProgressDeadline)}})
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
	c.MinReady, c.ProgressDeadline = time.Duration(aux.configDurations.MinReady), time.Duration(aux.configDurations.ProgressDeadline)
	return nil
}

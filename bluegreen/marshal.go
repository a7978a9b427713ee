package bluegreen

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
	AutoPromotionDelay  strategy.Duration `json:"autoPromotionDelay,omitempty"`
	ScaleDownDelay      strategy.Duration `json:"scaleDownDelay,omitempty"`
	AbortScaleDownDelay strategy.Duration `json:"abortScaleDownDelay,omitempty"`
	ProgressDeadline    strategy.Duration `json:"progressDeadline,omitempty"`
}

// MarshalJSON writes c with durations such as "30s".
func (c Config) MarshalJSON() ([]byte, error) {
	type plain Config
	return json.Marshal(struct {
		plain
		configDurations
	}{plain(c), configDurations{
		strategy.Duration(c.AutoPromotionDelay), strategy.Duration(c.ScaleDownDelay),
		strategy.Duration(c.AbortScaleDownDelay), strategy.Duration(c.ProgressDeadline),
	}})
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
	d := aux.configDurations
	c.AutoPromotionDelay, c.ScaleDownDelay = time.Duration(d.AutoPromotionDelay), time.Duration(d.ScaleDownDelay)
	c.AbortScaleDownDelay, c.ProgressDeadline = time.Duration(d.AbortScaleDownDelay), time.Duration(d.ProgressDeadline)
	return nil
}

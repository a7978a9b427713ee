package analysis

import (
	"encoding/json"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// The JSON form of Check writes durations as strings such as "5m" (see
// strategy.Duration); the time.Duration fields are tagged `json:"-"` and
// carried by these methods. The Source is code, not configuration: it is
// not written, and a decoded Check needs one set before use. Marshal a
// *Check (the methods have pointer receivers, since a Check must not be
// copied).

type checkDurations struct {
	InitialDelay       strategy.Duration `json:"initialDelay,omitempty"`
	Interval           strategy.Duration `json:"interval,omitempty"`
	Timeout            strategy.Duration `json:"timeout,omitempty"`
	ErrorRetryInterval strategy.Duration `json:"errorRetryInterval,omitempty"`
}

// MarshalJSON writes c's configuration with durations such as "5m". Secret
// argument values are written as they are: keep such files private.
func (c *Check) MarshalJSON() ([]byte, error) {
	type plain Check
	return json.Marshal(struct {
		*plain
		checkDurations
	}{(*plain)(c), checkDurations{
		strategy.Duration(c.InitialDelay), strategy.Duration(c.Interval),
		strategy.Duration(c.Timeout), strategy.Duration(c.ErrorRetryInterval),
	}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (c *Check) UnmarshalJSON(b []byte) error {
	type plain Check
	aux := struct {
		*plain
		checkDurations
	}{plain: (*plain)(c)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	d := aux.checkDurations
	c.InitialDelay, c.Interval = time.Duration(d.InitialDelay), time.Duration(d.Interval)
	c.Timeout, c.ErrorRetryInterval = time.Duration(d.Timeout), time.Duration(d.ErrorRetryInterval)
	return nil
}

type webhookDurations struct {
	Timeout      strategy.Duration `json:"timeout,omitempty"`
	MaxRetryWait strategy.Duration `json:"maxRetryWait,omitempty"`
}

// MarshalJSON writes w's configuration with its timeout such as "10s".
// The Secret is not written: keep it out of config files and set it from
// your secret store.
func (w *Webhook) MarshalJSON() ([]byte, error) {
	type plain Webhook
	return json.Marshal(struct {
		*plain
		webhookDurations
	}{(*plain)(w), webhookDurations{strategy.Duration(w.Timeout), strategy.Duration(w.MaxRetryWait)}})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (w *Webhook) UnmarshalJSON(b []byte) error {
	type plain Webhook
	aux := struct {
		*plain
		webhookDurations
	}{plain: (*plain)(w)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	w.Timeout = time.Duration(aux.webhookDurations.Timeout)
	w.MaxRetryWait = time.Duration(aux.webhookDurations.MaxRetryWait)
	return nil
}

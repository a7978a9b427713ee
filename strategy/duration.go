package strategy

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Duration is a time.Duration that marshals as a string in Go's duration
// syntax, as short as it can be ("5m", "1h30m", "250ms"), and unmarshals
// from any string time.ParseDuration accepts. The config types of
// glidepath use it in their JSON forms so that a config file says
// "interval": "5m" rather than a count of nanoseconds.
type Duration time.Duration

// String renders d without trailing zero units: "5m" rather than "5m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText writes d as String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration such as "30s", "5m" or "1h30m".
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like \"30s\", \"5m\" or \"1h\"", b)
	}
	*d = Duration(v)
	return nil
}

// UnmarshalJSON reads a JSON string such as "5m"; a bare number is
// rejected, since it would be ambiguous (seconds or nanoseconds).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration must be a string like \"30s\" or \"5m\", not %s", b)
	}
	return d.UnmarshalText([]byte(s))
}

package strategy

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// IntOrPercent is a count given either as a whole number or as a percentage
// of a total, like Kubernetes' IntOrString for maxSurge and maxUnavailable.
// The zero value is the integer 0.
//
// A percentage is written "N%" with N a whole number from 0 to 100. A string
// without the percent sign ("25") is rejected, as Kubernetes rejects it.
type IntOrPercent struct {
	// Str, when not empty, is the percentage form ("25%"); otherwise Int
	// is the value.
	Str string
	// Int is the integer form, used when Str is empty.
	Int int
}

// Int returns the integer form n.
func Int(n int) IntOrPercent { return IntOrPercent{Int: n} }

// Percent returns the percentage form p%.
func Percent(p int) IntOrPercent { return IntOrPercent{Str: strconv.Itoa(p) + "%"} }

// ParseIntOrPercent reads "3" as the integer 3 and "25%" as 25 percent.
func ParseIntOrPercent(s string) (IntOrPercent, error) {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "%") {
		v := IntOrPercent{Str: s}
		return v, v.check()
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return IntOrPercent{}, fmt.Errorf("%q is neither a whole number nor a percentage like \"25%%\"", s)
	}
	v := IntOrPercent{Int: n}
	return v, v.check()
}

// IsPercent reports whether v is the percentage form.
func (v IntOrPercent) IsPercent() bool { return v.Str != "" }

// String renders "3" or "25%".
func (v IntOrPercent) String() string {
	if v.IsPercent() {
		return v.Str
	}
	return strconv.Itoa(v.Int)
}

// Validate reports, as a [*ConfigError] with one problem, a malformed v: a
// negative integer, a string without a percent sign, a percentage that is
// not a whole number, or one above 100%.
func (v IntOrPercent) Validate() error {
	if err := v.check(); err != nil {
		return Invalid("int or percent "+v.String(), err.Error())
	}
	return nil
}

// check returns the one problem with v as a plain phrase, or nil.
func (v IntOrPercent) check() error {
	if !v.IsPercent() {
		if v.Int < 0 {
			return fmt.Errorf("%d is negative", v.Int)
		}
		return nil
	}
	num, ok := strings.CutSuffix(v.Str, "%")
	if !ok {
		return fmt.Errorf("%q is not a percentage: it must end in %% (or be given as an integer)", v.Str)
	}
	p, err := strconv.Atoi(num)
	if err != nil {
		return fmt.Errorf("%q is not a whole-number percentage", v.Str)
	}
	if p < 0 {
		return fmt.Errorf("%q is negative", v.Str)
	}
	if p > 100 {
		return fmt.Errorf("%q is over 100%%", v.Str)
	}
	return nil
}

// ScaledValue resolves v against total as Kubernetes'
// GetScaledValueFromIntOrPercent does: an integer is itself; a percentage
// "p%" is p*total/100, rounded up when roundUp is true and down otherwise.
// A string that is not a percentage ("90" without its percent sign, "2.5%",
// "-5%") is an error, as in Kubernetes.
func (v IntOrPercent) ScaledValue(total int, roundUp bool) (int, error) {
	if !v.IsPercent() {
		return v.Int, nil
	}
	num, ok := strings.CutSuffix(v.Str, "%")
	if !ok {
		return 0, fmt.Errorf("%q is not a percentage: it must end in %% (or be given as an integer)", v.Str)
	}
	p, err := strconv.Atoi(num)
	if err != nil {
		return 0, fmt.Errorf("%q is not a whole-number percentage", v.Str)
	}
	if p < 0 {
		return 0, fmt.Errorf("%q is negative", v.Str)
	}
	prod := int64(p) * int64(total)
	if roundUp {
		prod += 99
	}
	return int(min(prod/100, int64(math.MaxInt))), nil
}

// Scaled is [IntOrPercent.ScaledValue] without the error: a malformed v
// (one ScaledValue refuses, such as "90" without its percent sign) scales
// to 0. Call Check first.
func (v IntOrPercent) Scaled(total int, roundUp bool) int {
	n, err := v.ScaledValue(total, roundUp)
	if err != nil {
		return 0
	}
	return n
}

// SurgeAndUnavailable resolves max surge and max unavailable against a
// desired count as a Kubernetes Deployment does (ResolveFenceposts): surge
// rounds up, unavailable rounds down, and when both come to zero one
// instance may be unavailable, so that progress is possible.
func SurgeAndUnavailable(maxSurge, maxUnavailable IntOrPercent, desired int) (surge, unavailable int) {
	surge = maxSurge.Scaled(desired, true)
	unavailable = maxUnavailable.Scaled(desired, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

// MarshalJSON writes 3 or "25%".
func (v IntOrPercent) MarshalJSON() ([]byte, error) {
	if v.IsPercent() {
		return json.Marshal(v.Str)
	}
	return json.Marshal(v.Int)
}

// UnmarshalJSON reads 3 or "25%".
func (v *IntOrPercent) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = IntOrPercent{Str: s}
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("IntOrPercent: %s is neither an integer nor a string", b)
	}
	*v = IntOrPercent{Int: n}
	return nil
}

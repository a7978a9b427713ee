package prometheus_test

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/strategy"
)

// seriesFor answers query q with the series in pairs, or with their sum
// (by le, when they have one) when q sums them, as Prometheus would.
func seriesFor(q string, pairs ...any) string {
	if !strings.HasPrefix(q, "sum") {
		return series(pairs...)
	}
	sums := map[string]float64{}
	var order []string
	for i := 0; i < len(pairs); i += 2 {
		key := ""
		for _, kv := range strings.Split(pairs[i].(string), ",") {
			if strings.HasPrefix(kv, "le=") {
				key = kv
			}
		}
		if _, ok := sums[key]; !ok {
			order = append(order, key)
		}
		sums[key] += toFloat(pairs[i+1])
	}
	var summed []any
	for _, k := range order {
		summed = append(summed, k, sums[k])
	}
	return series(summed...)
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("not a number: %v", v))
}

func ps(pairs ...any) []any { return pairs }

// series renders label sets and values as an instant vector: each element
// of pairs is a label set ("pod=a,le=0.1", or "" for none) followed by its
// value.
func series(pairs ...any) string {
	var b strings.Builder
	b.WriteString(`{"resultType":"vector","result":[`)
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"metric":{`)
		for j, kv := range strings.Split(pairs[i].(string), ",") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			if j > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%q:%q", k, v)
		}
		fmt.Fprintf(&b, `},"value":[1700000000,%q]}`, fmt.Sprint(pairs[i+1]))
	}
	b.WriteString(`]}`)
	return success(b.String())
}

// A revision served by several pods, read as Prometheus' increase() reads
// counters, series by series: pod a restarts while pod b grows by more
// than a had counted (a sum would grow, and hide the restart), pod c
// appears (it counts from zero), pod b vanishes for a reading (it stops
// contributing, and the sum does not drop) and comes back (it is compared
// with its last value). A reading at an earlier time, as the judge's
// history, is the plain sum plus the corrections made by then, and leaves
// the state alone.
func TestCountsResetPerSeries(t *testing.T) {
	// Trials and failures of the baseline's pods at each reading.
	readings := []struct {
		trials, failures []any
		wantT, wantF     float64
	}{
		{ps("pod=a", 1000, "pod=b", 1000), ps("pod=a", 10, "pod=b", 10), 2000, 20},
		// a restarted (50 since), b grew by 1000: the plain sum, 2050,
		// would hide 1000 of a's trials.
		{ps("pod=a", 50, "pod=b", 2000), ps("pod=a", 5, "pod=b", 20), 3050, 35},
		// c appears with 100: all of them are new.
		{ps("pod=a", 100, "pod=b", 2100, "pod=c", 100), ps("pod=a", 10, "pod=b", 21, "pod=c", 1), 3300, 42},
		// b vanishes: it stays at its last value.
		{ps("pod=a", 200, "pod=c", 200), ps("pod=a", 20, "pod=c", 2), 3500, 53},
		// b is back, 100 further on.
		{ps("pod=a", 200, "pod=b", 2200, "pod=c", 200), ps("pod=a", 20, "pod=b", 22, "pod=c", 2), 3600, 54},
	}
	var k int
	p := newPromServer(t, func(q string) (int, string) {
		failed := strings.Contains(q, "code=~")
		switch revisionOf(q) {
		case "v1":
			if failed {
				return 200, seriesFor(q, readings[k].failures...)
			}
			return 200, seriesFor(q, readings[k].trials...)
		case "v2":
			return 200, success(emptyBody)
		}
		return 400, badData
	})
	src := countSource(p.source(t))
	ctx := context.Background()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for k = range readings {
		b, _, err := src.CountsAt(ctx, release, at.Add(time.Duration(k)*time.Minute))
		if err != nil {
			t.Fatalf("reading %d: unexpected error: %v", k, err)
		}
		if want := (judge.Counts{Trials: readings[k].wantT, Failures: readings[k].wantF}); !reflect.DeepEqual(b, want) {
			t.Errorf("reading %d: b = %+v, want %+v", k, b, want)
		}
		switch k {
		case 1:
			// The judge's history: a reading before any corrected one is
			// the plain sum.
			b, _, err := src.CountsAt(ctx, release, at.Add(-time.Minute))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := (judge.Counts{Trials: 2050, Failures: 25}); !reflect.DeepEqual(b, want) {
				t.Errorf("an earlier reading: b = %+v, want %+v", b, want)
			}
		case 2:
			// A reading between corrected ones (a later analysis' history)
			// adds what the corrections had added by then (pod a's 1000
			// trials and 10 failures before its restart at minute 1).
			b, _, err := src.CountsAt(ctx, release, at.Add(90*time.Second))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := (judge.Counts{Trials: 2300 + 1000, Failures: 32 + 10}); !reflect.DeepEqual(b, want) {
				t.Errorf("an earlier reading between corrected ones: b = %+v, want %+v", b, want)
			}
		}
	}
}

// The buckets of one pod's histogram restart together: a drop in any of
// them (here the +Inf bucket) is a restart of all, even of a bucket that
// regrew past its old value; other pods' buckets are left alone.
func TestLatenciesResetPerSeries(t *testing.T) {
	readings := [][]any{
		ps("pod=a,le=0.1", 10, "pod=a,le=+Inf", 20, "pod=b,le=0.1", 10, "pod=b,le=+Inf", 20),
		// a restarted: 12 observations, all within 0.1 s (its 0.1 bucket
		// regrew past 10); b grew by 20.
		ps("pod=a,le=0.1", 12, "pod=a,le=+Inf", 12, "pod=b,le=0.1", 20, "pod=b,le=+Inf", 40),
	}
	var k int
	p := newPromServer(t, func(q string) (int, string) {
		if revisionOf(q) == "v1" {
			return 200, seriesFor(q, readings[k]...)
		}
		return 200, success(emptyBody)
	})
	src := latencySource(p.source(t))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := []judge.Histogram{
		{Bounds: []float64{0.1}, Counts: []float64{20}, Count: 40},
		{Bounds: []float64{0.1}, Counts: []float64{42}, Count: 72},
	}
	for k = range readings {
		b, _, err := src.LatenciesAt(context.Background(), release, at.Add(time.Duration(k)*time.Minute))
		if err != nil {
			t.Fatalf("reading %d: unexpected error: %v", k, err)
		}
		if !reflect.DeepEqual(b, want[k]) {
			t.Errorf("reading %d: b = %+v, want %+v", k, b, want[k])
		}
	}
}

// A canary served by three pods, one of which crash-loops: it restarts
// between every two readings and fails all it serves, while the
// two healthy pods grow by more than it had counted. Summed before resets
// are handled, the sum of the canary's counters never drops and the
// crash-looping pod's failures all but vanish; read series by series, the
// judge sees them and fails the canary.
func TestSequentialCrashLoopingPod(t *testing.T) {
	var reads int
	p := newPromServer(t, func(q string) (int, string) {
		n := float64(reads/4 + 1) // four queries a reading
		reads++
		failed := strings.Contains(q, "code=~")
		switch revisionOf(q) {
		case "v1":
			if failed {
				return 200, seriesFor(q, "pod=x", 50*n, "pod=y", 50*n)
			}
			return 200, seriesFor(q, "pod=x", 10000*n, "pod=y", 10000*n)
		case "v2":
			// The crash-looping pod c serves 40 or 20 requests between
			// restarts, alternately, all of them failing.
			c := 40.0
			if int(n)%2 == 0 {
				c = 20
			}
			if failed {
				return 200, seriesFor(q, "pod=a", 5*n, "pod=b", 5*n, "pod=c", c)
			}
			return 200, seriesFor(q, "pod=a", 1000*n, "pod=b", 1000*n, "pod=c", c)
		}
		return 400, badData
	})
	src := countSource(p.source(t))
	s := &judge.Sequential{Source: src, Interval: time.Millisecond, MaxDuration: time.Second, History: -1}
	v, err := s.Analyze(context.Background(), release)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Fail)
	}
}

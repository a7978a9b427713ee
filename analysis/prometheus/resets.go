package prometheus

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/common/model"
)

// resets keeps, for each query of a count or latency source, the last
// value of every series it returned, so that a counter reset in one series
// is seen as Prometheus' increase() sees it, series by series, however the
// other series of the revision grow: a series whose value dropped since
// the last reading restarted from zero, and its new value is what it
// counted since. The source then sums the series' reset-corrected values,
// which only grow. Summing first (as sum() in the query would) hides a
// restart whenever the other series gain more in the interval than the
// restarted one had counted.
//
// The series of one histogram of one target (its labels but le) restart
// together: a drop in any of its buckets is a reset of all of them.
//
// Series are matched by their label sets between readings. A series seen
// for the first time after the first reading counts from 0 (all its value
// is new); a series that vanished stops contributing (its last value stays
// in the sum, so the sum does not drop), and if it returns, it is compared
// with that last value (a series missed by one scrape is not counted
// twice). A series absent for retireAfter readings is folded into a
// constant per bucket bound and forgotten.
//
// Readings must come in time order to be corrected: one at an earlier
// time than the latest (the judges read the baseline's history after
// their first reading) is answered with the plain values plus what the
// corrections added by the latest corrected reading at or before it (so
// a history read by a later analysis joins that analysis' readings
// without a jump), without touching the state.
type resets struct {
	mu      sync.Mutex
	queries map[string]*queryState
	uses    uint64 // readings so far, to find the least recently read query
}

// keepQueries is how many queries' states a source keeps; beyond it the
// least recently read is forgotten (a long-lived source reads the
// revisions of one release after another).
const keepQueries = 64

// retireAfter is how many consecutive readings a vanished series is
// remembered for before it is folded into its bound's constant.
const retireAfter = 60

type queryState struct {
	used    uint64 // when last read, in readings
	at      time.Time
	extras  []extra // of the latest corrected readings, oldest first
	series  map[model.Fingerprint]*seriesState
	retired map[model.LabelValue]float64 // by le (empty for counters)
}

type seriesState struct {
	le      model.LabelValue
	value   float64 // the latest value read
	offset  float64 // the values the series had counted before its resets
	missing int     // consecutive readings without it
}

// correct returns the reset-corrected values of the series in vec, read
// at time at for query q, and those of the series that vanished, as one
// sample per series (with only its le label kept), plus one per bucket
// bound for the retired series.
func (r *resets) correct(q string, at time.Time, vec model.Vector) model.Vector {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.queries == nil {
		r.queries = make(map[string]*queryState)
	}
	st, ok := r.queries[q]
	if ok && at.Before(st.at) {
		return st.earlier(at, vec)
	}
	if !ok {
		if len(r.queries) >= keepQueries {
			r.forgetOldest()
		}
		st = &queryState{series: make(map[model.Fingerprint]*seriesState), retired: make(map[model.LabelValue]float64)}
		r.queries[q] = st
	}
	r.uses++
	st.used = r.uses
	for _, s := range vec {
		if s == nil || s.Histogram != nil || !(s.Value >= 0) || math.IsInf(float64(s.Value), 1) {
			return vec // not a count: left for the caller to reject
		}
	}
	st.at = at
	// A drop in any bucket of a histogram's series (its labels but le) is
	// a restart of all of them: a bucket that regrew past its old value
	// within the interval would otherwise hide it.
	restarted := make(map[model.Fingerprint]bool)
	for _, s := range vec {
		if ss, known := st.series[s.Metric.Fingerprint()]; known && float64(s.Value) < ss.value {
			restarted[withoutLE(s.Metric)] = true
		}
	}
	seen := make(map[model.Fingerprint]bool, len(vec))
	for _, s := range vec {
		fp := s.Metric.Fingerprint()
		seen[fp] = true
		v := float64(s.Value)
		ss, known := st.series[fp]
		if !known {
			st.series[fp] = &seriesState{le: s.Metric["le"], value: v}
			continue
		}
		if restarted[withoutLE(s.Metric)] {
			ss.offset += ss.value // a reset: the series counts again from 0
		}
		ss.value, ss.missing = v, 0
	}
	for fp, ss := range st.series {
		if seen[fp] {
			continue
		}
		if ss.missing++; ss.missing >= retireAfter {
			st.retired[ss.le] += ss.offset + ss.value
			delete(st.series, fp)
		}
	}
	out := make(model.Vector, 0, len(st.series)+len(st.retired))
	for _, ss := range st.series {
		out = append(out, &model.Sample{Metric: leOnly(ss.le), Value: model.SampleValue(ss.offset + ss.value)})
	}
	for le, v := range st.retired {
		out = append(out, &model.Sample{Metric: leOnly(le), Value: model.SampleValue(v)})
	}
	st.record(at, vec, out)
	return out
}

// forgetOldest drops the state of the least recently read query.
func (r *resets) forgetOldest() {
	var oldest string
	var when uint64
	for q, st := range r.queries {
		if oldest == "" || st.used < when {
			oldest, when = q, st.used
		}
	}
	delete(r.queries, oldest)
}

// extra is what the corrected values added to the plain ones, by le, at
// the time of a corrected reading.
type extra struct {
	at   time.Time
	byLE map[model.LabelValue]float64
}

// keepExtras is how many corrected readings' extras are kept for readings
// at earlier times.
const keepExtras = 256

// record notes what the corrected values out add to the plain values vec
// at time at.
func (st *queryState) record(at time.Time, vec, out model.Vector) {
	byLE := make(map[model.LabelValue]float64)
	for _, s := range out {
		byLE[s.Metric["le"]] += float64(s.Value)
	}
	for _, s := range vec {
		byLE[s.Metric["le"]] -= float64(s.Value)
	}
	if len(st.extras) >= keepExtras {
		st.extras = append(st.extras[:0], st.extras[1:]...)
	}
	st.extras = append(st.extras, extra{at: at, byLE: byLE})
}

// earlier answers a reading at a time before the latest corrected one
// (the judges read the baseline's history after their first reading):
// the plain values plus what the corrections added at the latest corrected
// reading at or before that time, so that the history joins the corrected
// readings without a jump; plain values when there is none. The state is
// left alone.
func (st *queryState) earlier(at time.Time, vec model.Vector) model.Vector {
	for _, s := range vec {
		if s == nil || s.Histogram != nil {
			return vec
		}
	}
	for i := len(st.extras) - 1; i >= 0; i-- {
		e := st.extras[i]
		if e.at.After(at) {
			continue
		}
		out := slices.Clone(vec)
		for le, v := range e.byLE {
			if v != 0 {
				out = append(out, &model.Sample{Metric: leOnly(le), Value: model.SampleValue(v)})
			}
		}
		return out
	}
	return vec
}

// withoutLE is the fingerprint of a series' labels but le: the series of
// one histogram of one target.
func withoutLE(m model.Metric) model.Fingerprint {
	if _, ok := m["le"]; !ok {
		return m.Fingerprint()
	}
	c := m.Clone()
	delete(c, "le")
	return c.Fingerprint()
}

func leOnly(le model.LabelValue) model.Metric {
	if le == "" {
		return model.Metric{}
	}
	return model.Metric{"le": le}
}

package prometheus

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// A long-lived source reads the revisions of one release after another:
// it keeps the state of at most keepQueries queries, forgetting the least
// recently read, and the one being read keeps its corrections.
func TestResetsForgetOldQueries(t *testing.T) {
	var r resets
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	vec := func(v float64) model.Vector {
		return model.Vector{&model.Sample{Metric: model.Metric{"pod": "a"}, Value: model.SampleValue(v)}}
	}
	r.correct("kept", at, vec(100))
	for i := range 3 * keepQueries {
		at = at.Add(time.Second)
		r.correct(fmt.Sprintf("q%d", i), at, vec(1))
		r.correct("kept", at, vec(100+float64(i)))
	}
	if n := len(r.queries); n > keepQueries {
		t.Errorf("%d query states kept, want at most %d", n, keepQueries)
	}
	// A reset of the kept query is still seen: 100 + 3·keepQueries - 1
	// counted before, 5 since.
	got := r.correct("kept", at.Add(time.Second), vec(5))
	if want := float64(100+3*keepQueries-1) + 5; len(got) != 1 || float64(got[0].Value) != want {
		t.Errorf("after a reset: %v, want %v", got, want)
	}
}

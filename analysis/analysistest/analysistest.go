package analysistest

import (
	"context"
	"sync"
	"time"

	"github.com/glidepath/glidepath/analysis"
)

// Reply is one scripted answer of a [Source].
type Reply struct {
	// Value is returned as the measurement (see [analysis.Source] for the
	// shapes conditions expect).
	Value any
	// Err, when set, is returned instead of Value.
	Err error
	// After delays the reply (in the caller's clock); a context that ends
	// first cuts the delay short and returns the context's error.
	After time.Duration
	// Block waits until the context ends and returns its error: a source
	// that never answers.
	Block bool
}

// Value returns a Reply with value v.
func Value(v any) Reply { return Reply{Value: v} }

// Err returns a Reply that fails with err.
func Err(err error) Reply { return Reply{Err: err} }

// Empty returns a Reply with an empty vector: a Prometheus query that
// matched no series.
func Empty() Reply { return Reply{Value: []float64{}} }

// NoData returns a Reply with a nil value.
func NoData() Reply { return Reply{} }

// Source is a scripted [analysis.Source]. Each call returns the next Reply;
// the last one repeats. When Func is set it answers instead of Replies.
type Source struct {
	// Replies is the script.
	Replies []Reply
	// Func, when set, answers call number call (counting from 0).
	Func func(ctx context.Context, call int, q analysis.Query) (any, error)

	mu      sync.Mutex
	queries []analysis.Query
	times   []time.Time
}

// Script returns a Source that answers replies in order, repeating the last.
func Script(replies ...Reply) *Source { return &Source{Replies: replies} }

// Values returns a Source that answers values in order, repeating the last.
func Values(values ...any) *Source {
	s := &Source{}
	for _, v := range values {
		s.Replies = append(s.Replies, Reply{Value: v})
	}
	return s
}

// Func returns a Source whose answers f computes.
func Func(f func(ctx context.Context, call int, q analysis.Query) (any, error)) *Source {
	return &Source{Func: f}
}

// Measure records the query and answers it.
func (s *Source) Measure(ctx context.Context, q analysis.Query) (any, error) {
	s.mu.Lock()
	call := len(s.queries)
	s.queries = append(s.queries, q)
	s.times = append(s.times, time.Now())
	f := s.Func
	r := Reply{}
	if len(s.Replies) > 0 {
		r = s.Replies[min(call, len(s.Replies)-1)]
	}
	s.mu.Unlock()
	if f != nil {
		return f(ctx, call, q)
	}
	if r.Block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if r.After > 0 {
		t := time.NewTimer(r.After)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	if r.Err != nil {
		return nil, r.Err
	}
	return r.Value, nil
}

// Calls returns how many measurements were asked for.
func (s *Source) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queries)
}

// Queries returns every query asked, in order.
func (s *Source) Queries() []analysis.Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]analysis.Query(nil), s.queries...)
}

// Times returns when each query was asked, in order.
func (s *Source) Times() []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.times...)
}

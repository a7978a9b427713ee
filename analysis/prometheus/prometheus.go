package prometheus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

// DefaultTimeout bounds one query when Source.Timeout is zero.
const DefaultTimeout = 30 * time.Second

// Defaults for the bounds on what a [Source] accepts from the server.
const (
	// DefaultMaxResponseBytes bounds a response body (after
	// decompression) when Source.MaxResponseBytes is zero: 16 MiB.
	DefaultMaxResponseBytes = 16 << 20
	// DefaultMaxSeries bounds the series of a result when
	// Source.MaxSeries is zero.
	DefaultMaxSeries = 10_000
	// DefaultMaxSamples bounds the samples of a result (the sum over its
	// series) when Source.MaxSamples is zero.
	DefaultMaxSamples = 1_000_000
)

// ErrResponseTooLarge is the error (marked [strategy.Permanent]) of a query
// whose response exceeds a [Source]'s bounds: its body is larger than
// MaxResponseBytes, or it holds more than MaxSeries series or MaxSamples
// samples. Retrying would not help: narrow the query (aggregate it, or
// select fewer series).
var ErrResponseTooLarge = errors.New("prometheus response too large")

// Source runs instant queries against a Prometheus server. Use it by pointer
// and do not change it after its first use; it is safe for concurrent use.
// Close releases its idle connections.
type Source struct {
	// Address is the server's base URL, for example
	// "http://prometheus.monitoring:9090". Required.
	Address string
	// HTTP configures authentication (basic auth, bearer token or token
	// file, OAuth2) and TLS, as in a Prometheus scrape configuration. The
	// zero value is plain HTTP.
	HTTP config.HTTPClientConfig
	// Timeout bounds each query, and is sent to the server as the query's
	// evaluation timeout (default [DefaultTimeout]).
	Timeout time.Duration
	// MaxResponseBytes bounds the response body glidepath reads (default
	// [DefaultMaxResponseBytes]); reading stops at the bound, so a
	// hostile or mistaken server cannot make the process allocate more.
	MaxResponseBytes int64
	// MaxSeries bounds the series of a result (default
	// [DefaultMaxSeries]).
	MaxSeries int
	// MaxSamples bounds the samples of a result, over all its series
	// (default [DefaultMaxSamples]).
	MaxSamples int

	once sync.Once
	api  v1.API
	err  error
	mu   sync.Mutex // guards rt, which Close may read while a first query sets it
	rt   interface{ CloseIdleConnections() }
}

// Validate reports every problem with the source at once.
func (s *Source) Validate() error {
	var probs []string
	u, err := url.Parse(s.Address)
	switch {
	case s.Address == "":
		probs = append(probs, "no Address")
	case err != nil:
		probs = append(probs, fmt.Sprintf("Address %q: %v", s.Address, err))
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		probs = append(probs, fmt.Sprintf("Address %q is not an http or https URL", s.Address))
	}
	cfg := s.HTTP
	if err := cfg.Validate(); err != nil {
		probs = append(probs, "HTTP: "+err.Error())
	}
	if s.Timeout < 0 {
		probs = append(probs, fmt.Sprintf("Timeout is negative (%v)", s.Timeout))
	}
	if s.MaxResponseBytes < 0 {
		probs = append(probs, fmt.Sprintf("MaxResponseBytes is negative (%d)", s.MaxResponseBytes))
	}
	if s.MaxSeries < 0 {
		probs = append(probs, fmt.Sprintf("MaxSeries is negative (%d)", s.MaxSeries))
	}
	if s.MaxSamples < 0 {
		probs = append(probs, fmt.Sprintf("MaxSamples is negative (%d)", s.MaxSamples))
	}
	return strategy.Invalid(fmt.Sprintf("prometheus source %q", s.Address), probs...)
}

func (s *Source) client() (v1.API, error) {
	s.once.Do(func() {
		if s.err = s.Validate(); s.err != nil {
			return
		}
		rt, err := config.NewRoundTripperFromConfig(s.HTTP, "glidepath")
		if err != nil {
			s.err = strategy.Invalid(fmt.Sprintf("prometheus source %q", s.Address), "HTTP: "+err.Error())
			return
		}
		if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
			s.mu.Lock()
			s.rt = c
			s.mu.Unlock()
		}
		limit := s.MaxResponseBytes
		if limit == 0 {
			limit = DefaultMaxResponseBytes
		}
		c, err := api.NewClient(api.Config{Address: s.Address, RoundTripper: limitedRT{rt: rt, limit: limit}})
		if err != nil {
			s.err = strategy.Invalid(fmt.Sprintf("prometheus source %q", s.Address), err.Error())
			return
		}
		s.api = v1.NewAPI(c)
	})
	return s.api, s.err
}

// Close closes idle connections to the server. The source stays usable,
// and Close may be called at any time, concurrently with queries.
func (s *Source) Close() error {
	s.mu.Lock()
	rt := s.rt
	s.mu.Unlock()
	if rt != nil {
		rt.CloseIdleConnections()
	}
	return nil
}

func (s *Source) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// Measure runs q.Text as an instant query at the current time.
func (s *Source) Measure(ctx context.Context, q analysis.Query) (any, error) {
	a, err := s.client()
	if err != nil {
		return nil, strategy.Permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	v, _, _, err := a.Query(ctx, q.Text, time.Now(), v1.WithTimeout(s.timeout()))
	if err != nil {
		return nil, classify(err)
	}
	if err := s.bounded(v); err != nil {
		return nil, err
	}
	return Result(v)
}

// limitedRT bounds the response bodies of rt.
type limitedRT struct {
	rt    http.RoundTripper
	limit int64
}

func (l limitedRT) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: l.limit, limit: l.limit}
	return resp, nil
}

// limitedBody reads at most limit bytes and fails, rather than truncating,
// when there are more.
type limitedBody struct {
	rc          io.ReadCloser
	left, limit int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One more byte tells a body of exactly limit bytes from a
		// longer one.
		var one [1]byte
		n, err := b.rc.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w: the body is larger than MaxResponseBytes (%d bytes)", ErrResponseTooLarge, b.limit)
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// bounded checks a result against MaxSeries and MaxSamples.
func (s *Source) bounded(v model.Value) error {
	maxSeries, maxSamples := s.MaxSeries, s.MaxSamples
	if maxSeries == 0 {
		maxSeries = DefaultMaxSeries
	}
	if maxSamples == 0 {
		maxSamples = DefaultMaxSamples
	}
	series, samples := 0, 0
	switch x := v.(type) {
	case model.Vector:
		series, samples = len(x), len(x)
	case model.Matrix:
		series = len(x)
		for _, ss := range x {
			if ss != nil {
				samples += len(ss.Values) + len(ss.Histograms)
			}
		}
	}
	var probs []string
	if series > maxSeries {
		probs = append(probs, fmt.Sprintf("%d series, more than MaxSeries (%d)", series, maxSeries))
	}
	if samples > maxSamples {
		probs = append(probs, fmt.Sprintf("%d samples, more than MaxSamples (%d)", samples, maxSamples))
	}
	if len(probs) == 0 {
		return nil
	}
	return strategy.Permanent(fmt.Errorf("%w: the result holds %s; aggregate the query or select fewer series", ErrResponseTooLarge, strings.Join(probs, " and ")))
}

// Range returns a source that runs range queries through s over the Window
// that ends when each measurement is taken, at resolution Step (default
// Window/30, at least one second). Its results are [][]float64.
func (s *Source) Range(window, step time.Duration) analysis.Source {
	return &rangeSource{s: s, window: window, step: step}
}

type rangeSource struct {
	s            *Source
	window, step time.Duration
}

// Validate reports every problem with the range source and its Prometheus
// source at once.
func (r *rangeSource) Validate() error {
	var probs []string
	if r.window <= 0 {
		probs = append(probs, fmt.Sprintf("range query needs a positive window (got %v)", r.window))
	}
	if r.step < 0 {
		probs = append(probs, fmt.Sprintf("range query needs a non-negative step (got %v)", r.step))
	}
	var ce *strategy.ConfigError
	if err := r.s.Validate(); errors.As(err, &ce) {
		probs = append(probs, ce.Problems...)
	} else if err != nil {
		probs = append(probs, err.Error())
	}
	return strategy.Invalid(fmt.Sprintf("prometheus range source %q", r.s.Address), probs...)
}

func (r *rangeSource) Measure(ctx context.Context, q analysis.Query) (any, error) {
	if r.window <= 0 || r.step < 0 {
		return nil, strategy.Permanent(fmt.Errorf("range query needs a positive window (got %v) and a non-negative step (got %v)", r.window, r.step))
	}
	a, err := r.s.client()
	if err != nil {
		return nil, strategy.Permanent(err)
	}
	step := r.step
	if step == 0 {
		step = max(r.window/30, time.Second)
	}
	ctx, cancel := context.WithTimeout(ctx, r.s.timeout())
	defer cancel()
	end := time.Now()
	v, _, _, err := a.QueryRange(ctx, q.Text, v1.Range{Start: end.Add(-r.window), End: end, Step: step}, v1.WithTimeout(r.s.timeout()))
	if err != nil {
		return nil, classify(err)
	}
	if err := r.s.bounded(v); err != nil {
		return nil, err
	}
	return Result(v)
}

// classify marks the errors that retrying cannot fix as permanent.
func classify(err error) error {
	if errors.Is(err, ErrResponseTooLarge) {
		return strategy.Permanent(fmt.Errorf("prometheus: %w; narrow the query or raise MaxResponseBytes", err))
	}
	var apiErr *v1.Error
	if errors.As(err, &apiErr) && apiErr.Type == v1.ErrBadData {
		return strategy.Permanent(fmt.Errorf("prometheus rejected the query: %w", err))
	}
	return fmt.Errorf("prometheus: %w", err)
}

// Result turns a query result into the value conditions see as `result`:
// a scalar is a float64, a vector a []float64 (one number per series, in
// the server's order), a matrix a [][]float64 (the samples of each series;
// histogram samples are not numbers and are refused), and a string a
// string. A nil value is "no data" (nil).
func Result(v model.Value) (any, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case *model.Scalar:
		if x == nil {
			return nil, nil
		}
		return float64(x.Value), nil
	case model.Vector:
		out := make([]float64, 0, len(x))
		for _, s := range x {
			if s == nil {
				continue
			}
			if s.Histogram != nil {
				return nil, errors.New("prometheus: native histogram samples are not numbers; query a function of them")
			}
			out = append(out, float64(s.Value))
		}
		return out, nil
	case model.Matrix:
		out := make([][]float64, 0, len(x))
		for _, ss := range x {
			if ss == nil {
				continue
			}
			if len(ss.Histograms) > 0 {
				return nil, errors.New("prometheus: native histogram samples are not numbers; query a function of them")
			}
			vals := make([]float64, len(ss.Values))
			for i, p := range ss.Values {
				vals[i] = float64(p.Value)
			}
			out = append(out, vals)
		}
		return out, nil
	case *model.String:
		if x == nil {
			return nil, nil
		}
		return x.Value, nil
	}
	return nil, fmt.Errorf("prometheus: unsupported result type %s", v.Type())
}

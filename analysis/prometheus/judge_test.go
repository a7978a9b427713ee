package prometheus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// promServer answers each instant query with the response its handler
// gives for the query text, and records the queries and their evaluation
// times.
type promServer struct {
	mu      sync.Mutex
	answer  func(query string) (status int, body string)
	queries []string
	times   []string
	srv     *httptest.Server
}

func newPromServer(t *testing.T, answer func(query string) (int, string)) *promServer {
	p := &promServer{answer: answer}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		q := r.Form.Get("query")
		p.mu.Lock()
		p.queries = append(p.queries, q)
		p.times = append(p.times, r.Form.Get("time"))
		status, body := p.answer(q)
		p.mu.Unlock()
		if status == 0 {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *promServer) source(t *testing.T) *prometheus.Source {
	s := &prometheus.Source{Address: p.srv.URL, Timeout: 2 * time.Second}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func (p *promServer) recorded() (queries, times []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.queries...), append([]string(nil), p.times...)
}

var revRE = regexp.MustCompile(`revision="((?:[^"\\]|\\.)*)"`)

// revisionOf returns the revision a query selects.
func revisionOf(q string) string {
	m := revRE.FindStringSubmatch(q)
	if m == nil {
		return ""
	}
	s, err := strconv.Unquote(`"` + m[1] + `"`)
	if err != nil {
		return ""
	}
	return s
}

// buckets renders le → count pairs as a vector of a sum by (le).
func buckets(pairs ...any) string {
	var b strings.Builder
	b.WriteString(`{"resultType":"vector","result":[`)
	for i := 0; i < len(pairs); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"metric":{"le":%q},"value":[1700000000,%q]}`, pairs[i], fmt.Sprint(pairs[i+1]))
	}
	b.WriteString(`]}`)
	return success(b.String())
}

// bucketsOf renders a cumulative histogram as the vector of a sum by (le).
func bucketsOf(h judge.Histogram) string {
	var pairs []any
	for i, b := range h.Bounds {
		pairs = append(pairs, strconv.FormatFloat(b, 'g', -1, 64), h.Counts[i])
	}
	return buckets(append(pairs, "+Inf", h.Count)...)
}

func latencySource(s *prometheus.Source) *prometheus.LatencySource {
	return &prometheus.LatencySource{Source: s, Metric: "http_request_duration_seconds",
		Matchers: []prometheus.Matcher{{Name: "job", Value: "api"}}}
}

var release = strategy.Input{Release: "api", Stable: "v1", Canary: "v2", State: strategy.State{Stable: "v1", Canary: "v2", Weight: 10}}

func TestLatencies(t *testing.T) {
	p := newPromServer(t, func(q string) (int, string) {
		switch revisionOf(q) {
		case "v1":
			// "1" and "1.0" are one bound, written by two client libraries.
			return 200, buckets("0.1", 10, "0.25", 40, "1", 50, "1.0", 40, "+Inf", 100)
		case "v2":
			return 200, buckets("0.25", 3, "0.1", 1, "1", 9, "+Inf", 10)
		}
		return 200, success(emptyBody)
	})
	src := latencySource(p.source(t))
	b, c, err := src.Latencies(context.Background(), release)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := (judge.Histogram{Bounds: []float64{0.1, 0.25, 1}, Counts: []float64{10, 40, 90}, Count: 100}); !reflect.DeepEqual(b, want) {
		t.Errorf("b = %+v, want %+v", b, want)
	}
	if want := (judge.Histogram{Bounds: []float64{0.1, 0.25, 1}, Counts: []float64{1, 3, 9}, Count: 10}); !reflect.DeepEqual(c, want) {
		t.Errorf("c = %+v, want %+v", c, want)
	}

	queries, times := p.recorded()
	if len(queries) != 2 {
		t.Fatalf("len(queries) = %d, want %d: %v", len(queries), 2, queries)
	}
	if got, want := slices.Sorted(slices.Values(queries)), []string{
		`http_request_duration_seconds_bucket{revision="v1",job="api"}`,
		`http_request_duration_seconds_bucket{revision="v2",job="api"}`,
	}; !slices.Equal(got, want) {
		t.Errorf("queries (sorted) = %q, want %q in any order", got, want)
	}
	if got, want := times[1], times[0]; got != want {
		t.Errorf("both revisions are read at the same instant: times[1] = %q, want %q", got, want)
	}
	q, err := src.Query("v2")
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !slices.Contains(queries, q) {
		t.Errorf("queries = %v, want it to contain %v", queries, q)
	}
}

func TestLatenciesShapes(t *testing.T) {
	normal := buckets("0.1", 10, "0.25", 40, "0.5", 80, "+Inf", 100)
	for _, tc := range []struct {
		name     string
		base, cy string
		wantB    judge.Histogram
		wantC    judge.Histogram
		err      string
	}{{
		name: "canary without series reads as empty",
		base: normal, cy: success(emptyBody),
		wantB: judge.Histogram{Bounds: []float64{0.1, 0.25, 0.5}, Counts: []float64{10, 40, 80}, Count: 100},
		wantC: judge.Histogram{Bounds: []float64{0.1, 0.25, 0.5}, Counts: []float64{0, 0, 0}},
	}, {
		name: "a bucket the canary lacks is left out of both",
		base: normal, cy: buckets("0.1", 1, "0.5", 8, "+Inf", 10),
		wantB: judge.Histogram{Bounds: []float64{0.1, 0.5}, Counts: []float64{10, 80}, Count: 100},
		wantC: judge.Histogram{Bounds: []float64{0.1, 0.5}, Counts: []float64{1, 8}, Count: 10},
	}, {
		name: "buckets the canary adds are left out",
		base: normal, cy: buckets("0.05", 0, "0.1", 1, "0.2", 2, "0.25", 3, "0.5", 8, "1", 9, "+Inf", 10),
		wantB: judge.Histogram{Bounds: []float64{0.1, 0.25, 0.5}, Counts: []float64{10, 40, 80}, Count: 100},
		wantC: judge.Histogram{Bounds: []float64{0.1, 0.25, 0.5}, Counts: []float64{1, 3, 8}, Count: 10},
	}, {
		name: "no bound in common", base: normal, cy: buckets("0.2", 1, "2", 8, "+Inf", 10),
		err: "no finite bucket bound in common",
	}, {
		name: "baseline without series", base: success(emptyBody), cy: normal,
		err: `no series for the baseline "v1"`,
	}, {
		name: "no +Inf bucket", base: buckets("0.1", 10, "0.25", 40), cy: normal,
		err: `no le="+Inf" bucket`,
	}, {
		name: "only the +Inf bucket", base: normal, cy: buckets("+Inf", 10),
		err: "no finite bucket bound",
	}, {
		name: "not cumulative", base: normal, cy: buckets("0.1", 5, "0.25", 3, "+Inf", 10),
		err: "not cumulative at le=0.25",
	}, {
		name: "bucket above the count", base: buckets("0.1", 10, "+Inf", 5), cy: normal,
		err: "not cumulative at le=0.1",
	}, {
		name: "bound not a number", base: buckets("fast", 1, "+Inf", 5), cy: normal,
		err: `le="fast" is not a number`,
	}, {
		name: "NaN count", base: buckets("0.1", "NaN", "+Inf", 5), cy: normal,
		err: "not a count",
	}, {
		name: "negative count", base: buckets("0.1", -1, "+Inf", 5), cy: normal,
		err: "not a count",
	}, {
		name: "series without le", base: success(vectorBody), cy: normal,
		err: "without an le label",
	}, {
		name: "native histogram", base: normal,
		cy:  success(`{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1","buckets":[[0,"0","1","1"]]}]}]}`),
		err: "native histogram",
	}, {
		name: "scalar result", base: success(scalarBody), cy: normal,
		err: "not an instant vector",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPromServer(t, func(q string) (int, string) {
				if revisionOf(q) == "v1" {
					return 200, tc.base
				}
				return 200, tc.cy
			})
			b, c, err := latencySource(p.source(t)).Latencies(context.Background(), release)
			if tc.err != "" {
				if err == nil {
					t.Fatal("err = nil, want an error")
				}
				if got := err.Error(); !strings.Contains(got, tc.err) {
					t.Errorf("err.Error() = %q, want it to contain %q", got, tc.err)
				}
				if strategy.IsPermanent(err) {
					t.Error("bad data is retried at the next interval: strategy.IsPermanent(err) = true, want false")
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(b, tc.wantB) {
				t.Errorf("b = %+v, want %+v", b, tc.wantB)
			}
			if !reflect.DeepEqual(c, tc.wantC) {
				t.Errorf("c = %+v, want %+v", c, tc.wantC)
			}
		})
	}
}

func TestLatenciesErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		status    int
		body      string
		permanent bool
		is        error
	}{
		{name: "bad_data", status: 400, body: badData, permanent: true},
		{name: "server error", status: 500, body: "internal error"},
		{name: "unavailable", status: 503, body: `{"status":"error","errorType":"unavailable","error":"shutting down"}`},
		{name: "execution", status: 422, body: `{"status":"error","errorType":"execution","error":"query timed out"}`},
		{name: "garbage", status: 200, body: "<html>"},
		{name: "timeout", status: 0, is: context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPromServer(t, func(q string) (int, string) {
				if revisionOf(q) == "v1" {
					return 200, buckets("0.1", 1, "+Inf", 2)
				}
				return tc.status, tc.body
			})
			s := p.source(t)
			s.Timeout = 50 * time.Millisecond
			_, _, err := latencySource(s).Latencies(context.Background(), release)
			if err == nil {
				t.Fatal("err = nil, want an error")
			}
			if got := strategy.IsPermanent(err); got != tc.permanent {
				t.Errorf("%v: strategy.IsPermanent(err) = %v, want %v", err, got, tc.permanent)
			}
			if tc.is != nil {
				if !errors.Is(err, tc.is) {
					t.Errorf("err = %v, want an error matching %v", err, tc.is)
				}
			}
		})
	}

	// A cancelled context is an error, and nothing waits for the server.
	p := newPromServer(t, func(string) (int, string) { return 0, "" })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := latencySource(p.source(t)).Latencies(ctx, release)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want an error matching %v", err, context.Canceled)
	}
}

// injections are revision names that would change a query if they were not
// escaped.
var injections = []string{
	`x"} or vector(1) #`,
	`x"}) or sum by (le) (up{a="`,
	`a\"b`,
	`\`,
	`}{__name__=~".+`,
	`{{release.canary}}`,
	"line\nbreak\x00\x7f",
	`'single' and "double"`,
	"back`tick",
	"\u2028unicode\u00e9",
}

// A revision name cannot change the query, whatever it holds: the matcher's
// value stays one string literal that means exactly the revision.
func TestRevisionCannotChangeQuery(t *testing.T) {
	for _, rev := range injections {
		t.Run(strconv.Quote(rev), func(t *testing.T) {
			src := latencySource(&prometheus.Source{Address: "http://prometheus:9090"})
			q, err := src.Query(strategy.Revision(rev))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			prefix, suffix := `http_request_duration_seconds_bucket{revision=`, `,job="api"}`
			if !(strings.HasPrefix(q, prefix) && strings.HasSuffix(q, suffix)) {
				t.Fatalf("%s: strings.HasPrefix(q, prefix) && strings.HasSuffix(q, suffix) = false, want true", q)
			}
			lit := strings.TrimSuffix(strings.TrimPrefix(q, prefix), suffix)
			got, err := strconv.Unquote(lit)
			if err != nil {
				t.Fatalf("the value must stay one string literal: %s: unexpected error: %v", lit, err)
			}
			if got != rev {
				t.Errorf("got = %q, want %q", got, rev)
			}
			if strings.Contains(lit, "\n") {
				t.Errorf("a literal holds no raw line break: lit = %q, want it not to contain %q", lit, "\n")
			}

			cs := countSource(&prometheus.Source{Address: "http://prometheus:9090"})
			trials, failures, err := cs.Queries(strategy.Revision(rev))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if want := `http_requests_total{revision=` + lit + `,job="api"}`; trials != want {
				t.Errorf("trials = %q, want %q", trials, want)
			}
			if want := `http_requests_total{revision=` + lit + `,job="api",code=~"5.."}`; failures != want {
				t.Errorf("failures = %q, want %q", failures, want)
			}
		})
	}
	_, err := latencySource(&prometheus.Source{Address: "http://p:9090"}).Query("bad\xffutf8")
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
}

func TestLatencyValidate(t *testing.T) {
	if err := latencySource(&prometheus.Source{Address: "http://p:9090"}).Validate(); err != nil {
		t.Errorf(`latencySource(&prometheus.Source{Address: "http://p:9090"}).Validate(): unexpected error: %v`, err)
	}

	src := &prometheus.LatencySource{
		Metric:        "http_request_duration_seconds_bucket",
		RevisionLabel: "rev-name",
		Matchers: []prometheus.Matcher{
			{Name: "1job", Value: "x"},
			{Name: "code", Op: "=~", Value: "5(.."},
			{Name: "route", Op: "~", Value: "/"},
			{Name: "le", Value: "0.1"},
			{Name: "path", Value: "\xff"},
		},
	}
	err := src.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{
		"without _bucket", `RevisionLabel "rev-name"`, `"1job" is not a valid label name`,
		"matcher code: error parsing regexp", `operator "~"`, `matcher on label "le"`,
		"matcher path: value is not valid UTF-8", "no Source",
	} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}

	err = (&prometheus.LatencySource{Source: &prometheus.Source{Address: "ftp://x"}, RevisionLabel: "le",
		Matchers: []prometheus.Matcher{{Name: "revision", Value: "v9"}}}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{"no Metric", `RevisionLabel "le" is reserved`, "not an http or https URL"} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
	err = (&prometheus.LatencySource{Source: &prometheus.Source{Address: "http://p:9090"}, Metric: "a-b",
		Matchers: []prometheus.Matcher{{Name: "revision", Value: "v9"}}}).Validate()
	for _, want := range []string{`Metric "a-b" is not a valid metric name`, `matcher on label "revision"`} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}

	// An invalid source is a permanent error: asking again cannot help.
	_, _, err = src.Latencies(context.Background(), release)
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	_, err = src.Query("v1")
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}

	// So is a release without a canary revision.
	_, _, err = latencySource(&prometheus.Source{Address: "http://p:9090"}).Latencies(context.Background(), strategy.Input{Stable: "v1"})
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if got := err.Error(); !strings.Contains(got, "no revision") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "no revision")
	}
}

func countSource(s *prometheus.Source) *prometheus.CountSource {
	return &prometheus.CountSource{Source: s, Metric: "http_requests_total",
		Matchers: []prometheus.Matcher{{Name: "job", Value: "api"}},
		Failed:   []prometheus.Matcher{{Name: "code", Op: "=~", Value: "5.."}}}
}

func value(v float64) string {
	return success(fmt.Sprintf(`{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"%v"]}]}`, v))
}

func TestCounts(t *testing.T) {
	answers := map[string]string{
		`http_requests_total{revision="v1",job="api"}`:               value(1000),
		`http_requests_total{revision="v1",job="api",code=~"5.."}`:   value(10),
		`http_requests_total{revision="v2",job="api"}`:               value(100),
		`http_requests_total{revision="v2",job="api",code=~"5.."}`:   success(emptyBody),
		`http_requests_total{revision="v3",job="api"}`:               success(emptyBody),
		`http_requests_total{revision="v3",job="api",code=~"5.."}`:   success(emptyBody),
		`http_requests_total{revision="bad",job="api"}`:              value(1),
		`http_requests_total{revision="bad",job="api",code=~"5.."}`:  value(2),
		`http_requests_total{revision="many",job="api"}`:             success(vectorBody),
		`http_requests_total{revision="many",job="api",code=~"5.."}`: value(0),
	}
	p := newPromServer(t, func(q string) (int, string) {
		if a, ok := answers[q]; ok {
			return 200, a
		}
		return 400, badData
	})
	src := countSource(p.source(t))
	ctx := context.Background()
	b, c, err := src.Counts(ctx, release)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := (judge.Counts{Trials: 1000, Failures: 10}); !reflect.DeepEqual(b, want) {
		t.Errorf("b = %+v, want %+v", b, want)
	}
	if want := (judge.Counts{Trials: 100}); !reflect.DeepEqual(c, want) {
		t.Errorf("no failing series is no failures: c = %+v, want %+v", c, want)
	}
	_, times := p.recorded()
	if len(times) != 4 {
		t.Fatalf("len(times) = %d, want %d: %v", len(times), 4, times)
	}
	for _, at := range times {
		if want := times[0]; at != want {
			t.Errorf("all four queries are read at the same instant: at = %q, want %q", at, want)
		}
	}

	_, c, err = src.Counts(ctx, strategy.Input{Stable: "v1", Canary: "v3"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := (judge.Counts{}); !reflect.DeepEqual(c, want) {
		t.Errorf("a canary without series has served nothing: c = %+v, want %+v", c, want)
	}

	_, _, err = src.Counts(ctx, strategy.Input{Stable: "v3", Canary: "v1"})
	if err == nil || !strings.Contains(err.Error(), `no series for the baseline "v3"`) {
		t.Fatalf("err = %v, want an error containing %q", err, `no series for the baseline "v3"`)
	}
	if strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = true, want false")
	}

	_, _, err = src.Counts(ctx, strategy.Input{Stable: "v1", Canary: "bad"})
	if err == nil || !strings.Contains(err.Error(), "more failures (2) than trials (1)") {
		t.Fatalf("err = %v, want an error containing %q", err, "more failures (2) than trials (1)")
	}

	_, _, err = src.Counts(ctx, strategy.Input{Stable: "v1", Canary: "many"})
	if err == nil || !strings.Contains(err.Error(), "NaN is not a count") {
		t.Fatalf("a series that is not a count is named: err = %v, want an error containing %q", err, "NaN is not a count")
	}

	_, _, err = src.Counts(ctx, strategy.Input{Stable: "v1", Canary: "unknown"})
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if !strategy.IsPermanent(err) {
		t.Error("bad_data is permanent: strategy.IsPermanent(err) = false, want true")
	}

	err = (&prometheus.CountSource{Metric: "x_total", Matchers: []prometheus.Matcher{{Name: "__name__", Value: "y"}}}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{"no Failed matchers", "no Source", `matcher on label "__name__"`} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
	_, _, err = (&prometheus.CountSource{}).Counts(ctx, release)
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
}

// cumulative is a histogram that grows by a batch of observations every
// time it is read, as a revision's counters grow between two readings.
type cumulative struct {
	h     judge.Histogram
	rng   *rand.Rand
	scale float64 // latency multiplier
	n     int     // observations per reading
}

func newCumulative(seed uint64, scale float64, n int) *cumulative {
	return &cumulative{h: judge.NewHistogram(latencyBounds...), rng: rand.New(rand.NewPCG(seed, 1)), scale: scale, n: n}
}

// latencyBounds are buckets 10% apart from 50 ms to about 2 s.
var latencyBounds = func() []float64 {
	var b []float64
	for x := 0.05; x < 2; x *= 1.1 {
		b = append(b, math.Round(x*1e4)/1e4)
	}
	return b
}()

func (c *cumulative) read() judge.Histogram {
	for range c.n {
		// Log-normal around 200 ms.
		c.h.Observe(c.scale * 0.2 * math.Exp(0.3*c.rng.NormFloat64()))
	}
	return c.h
}

// Through the sequential latency judge, readings from Prometheus fail a
// slower canary and pass an equal one, and a counter reset on the way
// is read as Prometheus' increase() reads it: by the source, series by
// series, so the judge sees counters that only grow.
func TestSequentialLatencyOverPrometheus(t *testing.T) {
	for _, tc := range []struct {
		name  string
		scale float64
		want  strategy.Outcome
	}{{"slower", 1.5, strategy.Fail}, {"equal", 1, strategy.Pass}} {
		t.Run(tc.name, func(t *testing.T) {
			revs := map[string]*cumulative{"v1": newCumulative(1, 1, 400), "v2": newCumulative(2, tc.scale, 100)}
			reads := 0
			p := newPromServer(t, func(q string) (int, string) {
				c := revs[revisionOf(q)]
				if c == nil {
					return 400, badData
				}
				h := c.read()
				if revisionOf(q) == "v2" {
					reads++
					if reads == 2 {
						// The canary restarted: its counters begin again.
						c.h = judge.NewHistogram(latencyBounds...)
						h = c.read()
					}
				}
				return 200, bucketsOf(h)
			})
			j := &judge.SequentialLatency{Source: latencySource(p.source(t)), Interval: time.Millisecond, MaxDuration: 10 * time.Second}
			if err := j.Validate(); err != nil {
				t.Fatalf("j.Validate(): unexpected error: %v", err)
			}
			v, err := j.Analyze(context.Background(), release)
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if v.Outcome != tc.want {
				t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, tc.want)
			}
			// The reading after the restart counts from zero (Prometheus'
			// increase()): the observations since the restart are weighed,
			// and the sums the judge reads never drop.
			if !(reads >= 2) {
				t.Errorf("the judge read past the reset: reads = %v, want >= %v", reads, 2)
			}
			if strings.Contains(v.Reason, "reset") {
				t.Errorf("v.Reason = %q, want it not to contain %q", v.Reason, "reset")
			}
		})
	}
}

// FuzzLatencies feeds arbitrary responses through the latency source:
// whatever the server says, it returns an error or two histograms that
// the judge accepts, on the same bounds, and never panics.
func FuzzLatencies(f *testing.F) {
	f.Add(200, buckets("0.1", 10, "0.25", 40, "+Inf", 100), 200, buckets("0.1", 1, "0.5", 8, "+Inf", 10))
	f.Add(200, buckets("1", 1, "1.0", 1, "+Inf", 3), 200, success(emptyBody))
	f.Add(200, buckets("0.1", 5, "+Inf", 4), 200, buckets("+Inf", 1))
	f.Add(200, success(vectorBody), 500, "oops")
	f.Add(400, badData, 200, success(scalarBody))
	f.Add(200, buckets("-Inf", 0, "1e308", 1, "+Inf", 1), 200, buckets("0x1p-3", 1, "+Inf", 1))

	var (
		mu     sync.Mutex
		status [2]int
		body   [2]string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		i := 0
		if revisionOf(r.Form.Get("query")) == "v2" {
			i = 1
		}
		mu.Lock()
		st, b := status[i], body[i]
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = io.WriteString(w, b)
	}))
	defer srv.Close()
	s := &prometheus.Source{Address: srv.URL}
	defer s.Close()
	src := latencySource(s)
	f.Fuzz(func(t *testing.T, st1 int, b1 string, st2 int, b2 string) {
		fix := func(st int) int {
			if st < 200 || st > 599 {
				return 200 + (st%400+400)%400
			}
			return st
		}
		mu.Lock()
		status, body = [2]int{fix(st1), fix(st2)}, [2]string{b1, b2}
		mu.Unlock()
		b, c, err := src.Latencies(context.Background(), release)
		if err != nil {
			if strategy.IsPermanent(err) && !strings.Contains(err.Error(), "bad_data") {
				t.Fatalf("only bad_data is permanent, got %v", err)
			}
			return
		}
		if !reflect.DeepEqual(c.Bounds, b.Bounds) {
			t.Fatalf("c.Bounds = %+v, want %+v", c.Bounds, b.Bounds)
		}
		if len(b.Bounds) == 0 {
			t.Fatal("b.Bounds is empty, want non-empty")
		}
		test, err := (&judge.SequentialLatency{}).NewTest()
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		_, err = test.Observe(b, c)
		if err != nil {
			t.Fatalf("the judge accepts what the source returns: %+v %+v: unexpected error: %v", b, c, err)
		}
	})
}

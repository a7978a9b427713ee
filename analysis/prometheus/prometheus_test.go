package prometheus_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeProm answers the Prometheus HTTP API with whatever the test sets.
type fakeProm struct {
	mu      sync.Mutex
	status  int
	body    string
	block   bool
	queries []string
	paths   []string
	auth    []string
	srv     *httptest.Server
}

func newFake(t *testing.T) *fakeProm {
	f := &fakeProm{status: 200}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		f.mu.Lock()
		f.queries = append(f.queries, r.Form.Get("query"))
		f.paths = append(f.paths, r.URL.Path)
		f.auth = append(f.auth, r.Header.Get("Authorization"))
		status, body, block := f.status, f.body, f.block
		f.mu.Unlock()
		if block {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeProm) set(status int, body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status, f.body, f.block = status, body, false
}

func source(t *testing.T, f *fakeProm) *prometheus.Source {
	s := &prometheus.Source{Address: f.srv.URL}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func success(data string) string { return `{"status":"success","data":` + data + `}` }

const (
	vectorBody = `{"resultType":"vector","result":[{"metric":{"rev":"v2"},"value":[1700000000,"0.995"]},{"metric":{"rev":"v1"},"value":[1700000000,"NaN"]}]}`
	scalarBody = `{"resultType":"scalar","result":[1700000000,"42"]}`
	matrixBody = `{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],[2,"2"]]},{"metric":{"a":"b"},"values":[[1,"3"]]}]}`
	stringBody = `{"resultType":"string","result":[1700000000,"hello"]}`
	emptyBody  = `{"resultType":"vector","result":[]}`
	badData    = `{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected \"}\""}`
)

func TestResultShapes(t *testing.T) {
	f := newFake(t)
	s := source(t, f)
	ctx := context.Background()

	f.set(200, success(vectorBody))
	v, err := s.Measure(ctx, analysis.Query{Text: `up{rev="v2"}`})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	vec, ok := v.([]float64)
	if !ok {
		t.Fatalf("Measure of an instant vector returned %T (%v), want []float64", v, v)
	}
	if got := vec[0]; got != 0.995 {
		t.Errorf("vec[0] = %v, want %v", got, 0.995)
	}
	if !math.IsNaN(vec[1]) {
		t.Error("math.IsNaN(vec[1]) = false, want true")
	}
	if want := []string{"/api/v1/query"}; !slices.Equal(f.paths, want) {
		t.Errorf("f.paths = %q, want %q", f.paths, want)
	}
	if got := f.queries[0]; got != `up{rev="v2"}` {
		t.Errorf("f.queries[0] = %q, want %q", got, `up{rev="v2"}`)
	}

	f.set(200, success(scalarBody))
	v, err = s.Measure(ctx, analysis.Query{Text: "scalar(x)"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(v, 42.0) {
		t.Errorf("v = %+v, want %v", v, 42.0)
	}

	v, err = prometheus.Result(&model.String{Value: "hello"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if !reflect.DeepEqual(v, "hello") {
		t.Errorf("v = %+v, want %q", v, "hello")
	}

	f.set(200, success(emptyBody))
	v, err = s.Measure(ctx, analysis.Query{Text: "absent_metric"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := []float64{}; !reflect.DeepEqual(v, want) {
		t.Errorf("v = %+v, want %+v", v, want)
	}

	f.set(200, success(matrixBody))
	v, err = s.Range(5*time.Minute, 0).Measure(ctx, analysis.Query{Text: "rate(x[1m])"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := [][]float64{{1, 2}, {3}}; !reflect.DeepEqual(v, want) {
		t.Errorf("v = %+v, want %+v", v, want)
	}
	if got := f.paths[len(f.paths)-1]; got != "/api/v1/query_range" {
		t.Errorf("f.paths[len(f.paths)-1] = %q, want %q", got, "/api/v1/query_range")
	}
}

func TestErrors(t *testing.T) {
	f := newFake(t)
	s := source(t, f)
	s.Timeout = 50 * time.Millisecond
	ctx := context.Background()

	f.set(400, badData)
	_, err := s.Measure(ctx, analysis.Query{Text: "up{"})
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if !strategy.IsPermanent(err) {
		t.Error("a bad query is permanent: strategy.IsPermanent(err) = false, want true")
	}
	if got := err.Error(); !strings.Contains(got, "bad_data") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "bad_data")
	}

	for _, tc := range []struct {
		status int
		body   string
	}{
		{500, "internal error"},
		{503, `{"status":"error","errorType":"unavailable","error":"shutting down"}`},
		{200, "<html>garbage"},
		{200, `{"status":"success","data":{"resultType":"vector","result":"nope"}}`},
		{422, `{"status":"error","errorType":"execution","error":"query timed out"}`},
	} {
		f.set(tc.status, tc.body)
		_, err = s.Measure(ctx, analysis.Query{Text: "up"})
		if err == nil {
			t.Fatalf("%d %s: err = nil, want an error", tc.status, tc.body)
		}
		if strategy.IsPermanent(err) {
			t.Errorf("%d %s: retried at the next interval: strategy.IsPermanent(err) = true, want false", tc.status, tc.body)
		}
	}

	f.mu.Lock()
	f.block = true
	f.mu.Unlock()
	_, err = s.Measure(ctx, analysis.Query{Text: "up"})
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if strategy.IsPermanent(err) {
		t.Error("a timeout is retried: strategy.IsPermanent(err) = true, want false")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want an error matching %v", err, context.DeadlineExceeded)
	}
}

// Through a check, each kind of response has its documented outcome.
func TestCheckOutcomes(t *testing.T) {
	f := newFake(t)
	s := source(t, f)
	in := strategy.Input{Release: "r", Stable: "v1", Canary: "v2", State: strategy.State{Stable: "v1", Canary: "v2", Weight: 10}}
	newCheck := func() *analysis.Check {
		return &analysis.Check{Label: "rate", Source: s, Query: `x{rev="{{release.canary}}"}`, SuccessCondition: "result[0] >= 0.99",
			ConsecutiveErrorLimit: new(0), MinSamples: 1, NoDataLimit: 0, ErrorRetryInterval: time.Millisecond}
	}
	f.set(200, success(vectorBody))
	v, err := newCheck().Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if got := f.queries[len(f.queries)-1]; got != `x{rev="v2"}` {
		t.Errorf("f.queries[len(f.queries)-1] = %q, want %q", got, `x{rev="v2"}`)
	}

	f.set(500, "boom")
	v, err = newCheck().Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("an error beyond the consecutive-error limit fails: v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if got := v.Measurements[0].Error; !strings.Contains(got, "server error: 500") {
		t.Errorf("v.Measurements[0].Error = %q, want it to contain %q", got, "server error: 500")
	}

	f.set(400, badData)
	v, err = newCheck().Analyze(context.Background(), in)
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}
	if len(v.Measurements) != 1 {
		t.Errorf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 1, v.Measurements)
	}

	f.set(200, success(emptyBody))
	c := newCheck()
	c.NoDataLimit = 2
	v, err = c.Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("no data is never a pass: v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}
	if len(v.Measurements) != 3 {
		t.Errorf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 3, v.Measurements)
	}
}

func TestValidate(t *testing.T) {
	s := &prometheus.Source{Address: "ftp://x", Timeout: -1,
		HTTP: config.HTTPClientConfig{BearerToken: "a", BearerTokenFile: "/b"}}
	err := s.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{"not an http or https URL", "HTTP:", "Timeout is negative"} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
	_, err = s.Measure(context.Background(), analysis.Query{Text: "up"})
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if err := (&prometheus.Source{}).Validate(); !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Errorf("(&prometheus.Source{}).Validate() = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
}

func TestBearerToken(t *testing.T) {
	f := newFake(t)
	s := &prometheus.Source{Address: f.srv.URL, HTTP: config.HTTPClientConfig{BearerToken: "tok"}}
	defer s.Close()
	f.set(200, success(scalarBody))
	_, err := s.Measure(context.Background(), analysis.Query{Text: "1"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if got := f.auth[0]; got != "Bearer tok" {
		t.Errorf("f.auth[0] = %q, want %q", got, "Bearer tok")
	}
}

func TestResultOfNilAndHistogram(t *testing.T) {
	v, err := prometheus.Result(nil)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v != nil {
		t.Errorf("prometheus.Result(nil) = %#v, want nil", v)
	}
	_, err = prometheus.Result(model.Vector{{Histogram: &model.SampleHistogram{}}})
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
}

// FuzzResponse feeds arbitrary responses through the Prometheus client and
// the conversion to `result`: whatever the server says, the source either
// errors or returns one of the documented shapes, and never panics.
func FuzzResponse(f *testing.F) {
	for _, body := range []string{vectorBody, scalarBody, matrixBody, stringBody, emptyBody,
		`{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}`,
		`{"resultType":"vector","result":[{"metric":{},"histogram":[1,{"count":"1","sum":"1"}]}]}`,
		`{"resultType":"scalar","result":[1,"x"]}`, `null`, `{}`, `[]`} {
		f.Add(200, success(body))
	}
	f.Add(400, badData)
	f.Add(500, "oops")
	f.Add(200, "")
	f.Add(204, "")
	f.Add(200, `{"status":"error","errorType":"bad_data","error":"x"}`)
	f.Add(422, `{"status":"success"}`)

	var (
		mu     sync.Mutex
		status int
		body   string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, b := status, body
		mu.Unlock()
		w.WriteHeader(st)
		_, _ = io.WriteString(w, b)
	}))
	defer srv.Close()
	s := &prometheus.Source{Address: srv.URL}
	defer s.Close()
	f.Fuzz(func(t *testing.T, st int, b string) {
		if st < 200 || st > 599 {
			st = 200 + (st%400+400)%400
		}
		mu.Lock()
		status, body = st, b
		mu.Unlock()
		v, err := s.Measure(context.Background(), analysis.Query{Text: "up"})
		if err != nil {
			if strategy.IsPermanent(err) && !strings.Contains(err.Error(), "bad_data") {
				t.Fatalf("only bad_data is permanent, got %v", err)
			}
			return
		}
		if st/100 != 2 {
			t.Fatalf("status %d gave no error", st)
		}
		switch v.(type) {
		case nil, float64, []float64, [][]float64, string:
		default:
			t.Fatalf("undocumented result type %T", v)
		}
	})
}

// Close may be called while the first queries are being made.
func TestCloseConcurrentWithQueries(t *testing.T) {
	f := newFake(t)
	f.set(200, success(scalarBody))
	s := &prometheus.Source{Address: f.srv.URL}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			_, err := s.Measure(context.Background(), analysis.Query{Text: "1"})
			if err != nil {
				t.Errorf("unexpected error: %v", err)
			}
		}()
		go func() { defer wg.Done(); _ = s.Close() }()
	}
	wg.Wait()
	if err := s.Close(); err != nil {
		t.Fatalf("s.Close(): unexpected error: %v", err)
	}
}

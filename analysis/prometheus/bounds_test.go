package prometheus_test

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// hugeVector serves a valid instant vector of n series, streamed, so the
// server never holds it whole.
func hugeVector(t *testing.T, n int) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if _, err := io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[`); err != nil {
			return
		}
		for i := range n {
			sep := ","
			if i == n-1 {
				sep = ""
			}
			if _, err := fmt.Fprintf(w, `{"metric":{"__name__":"up","instance":"host-%09d","job":"padding-padding-padding"},"value":[1700000000,"1"]}%s`, i, sep); err != nil {
				return // the client stopped reading
			}
		}
		_, _ = io.WriteString(w, `]}}`)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// A huge response is refused once MaxResponseBytes are read, without
// allocating the whole body.
func TestResponseBodyBounded(t *testing.T) {
	const series = 600_000 // about 64 MiB of JSON
	srv := hugeVector(t, series)
	src := &prometheus.Source{Address: srv.URL, MaxResponseBytes: 1 << 20}
	defer src.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, prometheus.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want an error matching %v", err, prometheus.ErrResponseTooLarge)
	}
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if got := err.Error(); !strings.Contains(got, "MaxResponseBytes (1048576 bytes)") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "MaxResponseBytes (1048576 bytes)")
	}
	allocated := after.TotalAlloc - before.TotalAlloc
	if !(allocated < uint64(32<<20)) {
		t.Errorf("reading a refused 64 MiB response allocated %d MiB: allocated = %v, want < %v", allocated>>20, allocated, uint64(32<<20))
	}
}

// The default bound is 16 MiB.
func TestResponseBodyDefaultBound(t *testing.T) {
	srv := hugeVector(t, 200_000) // about 21 MiB
	src := &prometheus.Source{Address: srv.URL, MaxSeries: 1 << 30, MaxSamples: 1 << 30}
	defer src.Close()
	_, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	if !errors.Is(err, prometheus.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want an error matching %v", err, prometheus.ErrResponseTooLarge)
	}
	if got := err.Error(); !strings.Contains(got, fmt.Sprintf("(%d bytes)", prometheus.DefaultMaxResponseBytes)) {
		t.Errorf("err.Error() = %q, want it to contain %q", got, fmt.Sprintf("(%d bytes)", prometheus.DefaultMaxResponseBytes))
	}
}

// Series and samples are bounded too, with one error naming both.
func TestResultSeriesAndSamplesBounded(t *testing.T) {
	srv := hugeVector(t, 11)
	src := &prometheus.Source{Address: srv.URL, MaxSeries: 10, MaxSamples: 5}
	defer src.Close()
	_, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	if !errors.Is(err, prometheus.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want an error matching %v", err, prometheus.ErrResponseTooLarge)
	}
	if !strategy.IsPermanent(err) {
		t.Error("strategy.IsPermanent(err) = false, want true")
	}
	if got := err.Error(); !strings.Contains(got, "11 series, more than MaxSeries (10) and 11 samples, more than MaxSamples (5)") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "11 series, more than MaxSeries (10) and 11 samples, more than MaxSamples (5)")
	}

	// Within the bounds, the result is read.
	src2 := &prometheus.Source{Address: srv.URL, MaxSeries: 11, MaxSamples: 11}
	defer src2.Close()
	v, err := src2.Measure(context.Background(), analysis.Query{Text: "up"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Slice || rv.Len() != 11 {
		t.Errorf("v = %v (%T), want 11 values", v, v)
	}

	// A range result's samples are counted over its series.
	mat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		vals := strings.TrimSuffix(strings.Repeat(`[1700000000,"1"],`, 4), ",")
		_, _ = fmt.Fprintf(w, `{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":"1"},"values":[%s]},{"metric":{"a":"2"},"values":[%s]}]}}`, vals, vals)
	}))
	defer mat.Close()
	src3 := &prometheus.Source{Address: mat.URL, MaxSamples: 7}
	defer src3.Close()
	_, err = src3.Range(60_000_000_000, 0).Measure(context.Background(), analysis.Query{Text: "up"})
	if !errors.Is(err, prometheus.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want an error matching %v", err, prometheus.ErrResponseTooLarge)
	}
	if got := err.Error(); !strings.Contains(got, "8 samples, more than MaxSamples (7)") {
		t.Errorf("err.Error() = %q, want it to contain %q", got, "8 samples, more than MaxSamples (7)")
	}
}

func TestBoundsValidated(t *testing.T) {
	err := (&prometheus.Source{Address: "http://127.0.0.1:9090", MaxResponseBytes: -1, MaxSeries: -1, MaxSamples: -1}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, f := range []string{"MaxResponseBytes", "MaxSeries", "MaxSamples"} {
		if got := err.Error(); !strings.Contains(got, f) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, f)
		}
	}
}

// A body of exactly MaxResponseBytes is read; one byte more is refused.
func TestResponseBodyBoundIsExact(t *testing.T) {
	body := `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.5"]}]}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	exact := &prometheus.Source{Address: srv.URL, MaxResponseBytes: int64(len(body))}
	defer exact.Close()
	v, err := exact.Measure(context.Background(), analysis.Query{Text: "up"})
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if want := []float64{0.5}; !reflect.DeepEqual(v, want) {
		t.Errorf("v = %+v, want %+v", v, want)
	}
	short := &prometheus.Source{Address: srv.URL, MaxResponseBytes: int64(len(body) - 1)}
	defer short.Close()
	_, err = short.Measure(context.Background(), analysis.Query{Text: "up"})
	if !errors.Is(err, prometheus.ErrResponseTooLarge) {
		t.Fatalf("err = %v, want an error matching %v", err, prometheus.ErrResponseTooLarge)
	}
}

// The source does not ask for compressed responses and does not
// decompress them, so a small gzip bomb (64 MiB of JSON in about 64 KiB)
// is an error, never 64 MiB in memory.
func TestGzipBombNotDecompressed(t *testing.T) {
	var asked string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.Header.Get("Accept-Encoding")
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Encoding", "gzip")
		zw := gzip.NewWriter(w)
		_, _ = io.WriteString(zw, `{"status":"success","data":{"resultType":"string","result":[1700000000,"`)
		chunk := []byte(strings.Repeat("a", 1<<16))
		for range 64 * 16 {
			if _, err := zw.Write(chunk); err != nil {
				return
			}
		}
		_, _ = io.WriteString(zw, `"]}}`)
		_ = zw.Close()
	}))
	defer srv.Close()
	src := &prometheus.Source{Address: srv.URL}
	defer src.Close()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("a compressed body was read as %v: err = nil, want an error", v)
	}
	if strings.Contains(asked, "gzip") {
		t.Errorf("asked = %q, want it not to contain %q", asked, "gzip")
	}
	if got := after.TotalAlloc - before.TotalAlloc; !(got < uint64(16<<20)) {
		t.Errorf("after.TotalAlloc-before.TotalAlloc = %v, want < %v", got, uint64(16<<20))
	}
}

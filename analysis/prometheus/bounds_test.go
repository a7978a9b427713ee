package prometheus_test

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
	require.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
	assert.True(t, strategy.IsPermanent(err))
	assert.Contains(t, err.Error(), "MaxResponseBytes (1048576 bytes)")
	allocated := after.TotalAlloc - before.TotalAlloc
	assert.Less(t, allocated, uint64(32<<20), "reading a refused 64 MiB response allocated %d MiB", allocated>>20)
}

// The default bound is 16 MiB.
func TestResponseBodyDefaultBound(t *testing.T) {
	srv := hugeVector(t, 200_000) // about 21 MiB
	src := &prometheus.Source{Address: srv.URL, MaxSeries: 1 << 30, MaxSamples: 1 << 30}
	defer src.Close()
	_, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	require.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
	assert.Contains(t, err.Error(), fmt.Sprintf("(%d bytes)", prometheus.DefaultMaxResponseBytes))
}

// Series and samples are bounded too, with one error naming both.
func TestResultSeriesAndSamplesBounded(t *testing.T) {
	srv := hugeVector(t, 11)
	src := &prometheus.Source{Address: srv.URL, MaxSeries: 10, MaxSamples: 5}
	defer src.Close()
	_, err := src.Measure(context.Background(), analysis.Query{Text: "up"})
	require.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
	assert.True(t, strategy.IsPermanent(err))
	assert.Contains(t, err.Error(), "11 series, more than MaxSeries (10) and 11 samples, more than MaxSamples (5)")

	// Within the bounds, the result is read.
	src2 := &prometheus.Source{Address: srv.URL, MaxSeries: 11, MaxSamples: 11}
	defer src2.Close()
	v, err := src2.Measure(context.Background(), analysis.Query{Text: "up"})
	require.NoError(t, err)
	assert.Len(t, v, 11)

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
	require.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
	assert.Contains(t, err.Error(), "8 samples, more than MaxSamples (7)")
}

func TestBoundsValidated(t *testing.T) {
	err := (&prometheus.Source{Address: "http://127.0.0.1:9090", MaxResponseBytes: -1, MaxSeries: -1, MaxSamples: -1}).Validate()
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
	for _, f := range []string{"MaxResponseBytes", "MaxSeries", "MaxSamples"} {
		assert.Contains(t, err.Error(), f)
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
	require.NoError(t, err)
	assert.Equal(t, []float64{0.5}, v)
	short := &prometheus.Source{Address: srv.URL, MaxResponseBytes: int64(len(body) - 1)}
	defer short.Close()
	_, err = short.Measure(context.Background(), analysis.Query{Text: "up"})
	require.ErrorIs(t, err, prometheus.ErrResponseTooLarge)
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
	require.Error(t, err, "a compressed body was read as %v", v)
	assert.NotContains(t, asked, "gzip")
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(16<<20))
}

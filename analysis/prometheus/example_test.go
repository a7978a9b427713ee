package prometheus_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/analysis/prometheus"
	"github.com/glidepath/glidepath/strategy"
)

// A check of the canary's success rate against a Prometheus server (here a
// stand-in that answers every query with one series).
func ExampleSource() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		fmt.Println("query:", r.Form.Get("query"))
		_, _ = io.WriteString(w, `{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000,"0.997"]}]}}`)
	}))
	defer srv.Close()
	prom := &prometheus.Source{Address: srv.URL}
	defer prom.Close()

	check := &analysis.Check{
		Label:            "success-rate",
		Source:           prom,
		Query:            `sum(rate(http_requests_total{rev="{{release.canary}}",code!~"5.."}[{{args.window}}])) / sum(rate(http_requests_total{rev="{{release.canary}}"}[{{args.window}}]))`,
		Args:             []analysis.Arg{{Name: "window", Value: "5m"}},
		SuccessCondition: "result[0] >= 0.99",
	}
	v, err := check.Analyze(context.Background(), strategy.Input{Release: "shop", Stable: "v1", Canary: "v2"})
	fmt.Println(v.Outcome, err, v.Measurements[0].Value)
	// Output:
	// query: sum(rate(http_requests_total{rev="v2",code!~"5.."}[5m])) / sum(rate(http_requests_total{rev="v2"}[5m]))
	// Pass <nil> [0.997]
}

package analysis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

func TestHTTPSource(t *testing.T) {
	var status int
	var body string
	var gotURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURL = r.URL.String()
		if got := r.Header.Get("Authorization"); got != "Bearer t" {
			t.Errorf(`r.Header.Get("Authorization") = %q, want %q`, got, "Bearer t")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	defer srv.Close()
	tests := []struct {
		name      string
		status    int
		body      string
		path      string
		want      any
		err       string
		permanent bool
	}{
		{"number", 200, `{"data":{"rate":0.995}}`, "data.rate", 0.995, "", false},
		{"jsonpath", 200, `{"data":{"values":[1,2.5]}}`, "$.data.values[1]", 2.5, "", false},
		{"argo braces", 200, `{"results":{"ok":"true"}}`, "{$.results.ok}", "true", "", false},
		{"array", 200, `{"v":[0.1,0.2]}`, "v", []float64{0.1, 0.2}, "", false},
		{"null is no data", 200, `{"v":null}`, "v", nil, "", false},
		{"missing key", 200, `{"v":1}`, "w", nil, `no key "w"`, false},
		{"garbage", 200, `<html>oops`, "v", nil, "not JSON", false},
		{"server error is retried", 503, `overloaded`, "v", nil, "HTTP 503: overloaded", false},
		{"too many requests is retried", 429, ``, "v", nil, "HTTP 429", false},
		{"not found is permanent", 404, `no such metric`, "v", nil, "HTTP 404", true},
		{"object is not a value", 200, `{"v":{"a":1}}`, "v", nil, "object", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body = tt.status, tt.body
			h := &analysis.HTTP{Path: tt.path, Header: http.Header{"Authorization": {"Bearer t"}}}
			v, err := h.Measure(context.Background(), analysis.Query{Text: srv.URL + "/m"})
			if tt.err != "" {
				if err == nil {
					t.Fatal("err = nil, want an error")
				}
				if got := err.Error(); !strings.Contains(got, tt.err) {
					t.Errorf("err.Error() = %q, want it to contain %q", got, tt.err)
				}
				if got := strategy.IsPermanent(err); got != tt.permanent {
					t.Errorf("strategy.IsPermanent(err) = %v, want %v", got, tt.permanent)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !reflect.DeepEqual(v, tt.want) {
				t.Errorf("v = %+v, want %+v", v, tt.want)
			}
		})
	}

	// Placeholders in the URL are percent-encoded.
	status, body = 200, `{"v":1}`
	in := input()
	in.Canary = "v2&admin=1/../x y"
	c := &analysis.Check{Label: "web", Source: &analysis.HTTP{Path: "v", Header: http.Header{"Authorization": {"Bearer t"}}},
		Query: srv.URL + "/m?rev={{release.canary}}", SuccessCondition: "result == 1"}
	v, err := c.Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if gotURL != "/m?rev=v2%26admin%3D1%2F..%2Fx%20y" {
		t.Errorf("gotURL = %q, want %q", gotURL, "/m?rev=v2%26admin%3D1%2F..%2Fx%20y")
	}
}

func TestWebhook(t *testing.T) {
	secretKey := []byte("hook-key")
	var status int
	var answer string
	var got analysis.WebhookRequest
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if err := analysis.VerifyWebhook(secretKey, r.Header, raw, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		_ = json.Unmarshal(raw, &got)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	defer srv.Close()
	in := input()
	in.Current = func() strategy.State { s := in.State; s.Weight = 40; return s }

	hook := &analysis.Webhook{Label: "change-freeze", URL: srv.URL, Secret: secretKey}
	status, answer = 200, "ok"
	v, err := hook.Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if got.Gate != "change-freeze" {
		t.Errorf("got.Gate = %q, want %q", got.Gate, "change-freeze")
	}
	if got.Canary != strategy.Revision("v2") {
		t.Errorf("got.Canary = %q, want %q", got.Canary, strategy.Revision("v2"))
	}
	if got.State.Weight != 40 {
		t.Errorf("got.State.Weight = %v, want %v", got.State.Weight, 40)
	}
	if got.Step != 2 {
		t.Errorf("got.Step = %v, want %v", got.Step, 2)
	}

	status, answer = 403, `{"reason":"change freeze until Monday"}`
	v, err = hook.Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if v.Reason != "refused (HTTP 403): change freeze until Monday" {
		t.Errorf("v.Reason = %q, want %q", v.Reason, "refused (HTTP 403): change freeze until Monday")
	}
	if len(v.Measurements) != 1 {
		t.Fatalf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 1, v.Measurements)
	}
	if got := v.Measurements[0].Value; got != "HTTP 403" {
		t.Errorf("v.Measurements[0].Value = %q, want %q", got, "HTTP 403")
	}

	status, answer = 502, "bad gateway"
	v, err = hook.Analyze(context.Background(), in)
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}

	// A receiver with another key refuses: the signature is what it trusts.
	wrong := &analysis.Webhook{Label: "x", URL: srv.URL, Secret: []byte("other")}
	v, err = wrong.Analyze(context.Background(), in)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Fail {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Fail)
	}
	if !strings.Contains(v.Reason, "signature does not verify") {
		t.Errorf("v.Reason = %q, want it to contain %q", v.Reason, "signature does not verify")
	}

	// No answer at all is an error, never a pass.
	srv.Close()
	v, err = hook.Analyze(context.Background(), in)
	if err == nil {
		t.Fatal("err = nil, want an error")
	}
	if v.Outcome != strategy.Inconclusive {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
	}

	err = (&analysis.Webhook{URL: "ftp://x"}).Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("err = %v, want an error matching %v", err, strategy.ErrInvalidConfig)
	}
	for _, want := range []string{"no Label", "not an http or https URL", "no Secret"} {
		if got := err.Error(); !strings.Contains(got, want) {
			t.Errorf("err.Error() = %q, want it to contain %q", got, want)
		}
	}
}

func TestVerifyWebhook(t *testing.T) {
	key := []byte("k")
	body := []byte(`{"gate":"g"}`)
	now := time.Unix(1_700_000_000, 0)
	ts := fmt.Sprint(now.Unix())
	h := http.Header{}
	h.Set(analysis.TimestampHeader, ts)
	h.Set(analysis.SignatureHeader, analysis.Sign(key, ts, body))
	if err := analysis.VerifyWebhook(key, h, body, now.Add(10*time.Second), time.Minute); err != nil {
		t.Fatalf("analysis.VerifyWebhook(key, h, body, now.Add(10*time.Second), time.Minute): unexpected error: %v", err)
	}
	// The documented scheme: hex HMAC-SHA256 of "timestamp.body".
	if got := h.Get(analysis.SignatureHeader); got != "sha256=c0c95169f90a536d30459de7bf904594de26a130a763bb6c2b81dbc116f495ee" {
		t.Errorf("h.Get(analysis.SignatureHeader) = %q, want %q", got, "sha256=c0c95169f90a536d30459de7bf904594de26a130a763bb6c2b81dbc116f495ee")
	}
	if err := analysis.VerifyWebhook(key, h, []byte(`{"gate":"h"}`), now, time.Minute); !errors.Is(err, analysis.ErrBadSignature) {
		t.Errorf("analysis.VerifyWebhook(key, h, []byte(`{\"gate\":\"h\"}`), now, time.Minute) = %v, want an error matching %v", err, analysis.ErrBadSignature)
	}
	if err := analysis.VerifyWebhook([]byte("other"), h, body, now, time.Minute); !errors.Is(err, analysis.ErrBadSignature) {
		t.Errorf(`analysis.VerifyWebhook([]byte("other"), h, body, now, time.Minute) = %v, want an error matching %v`, err, analysis.ErrBadSignature)
	}
	if err := analysis.VerifyWebhook(key, h, body, now.Add(2*time.Minute), time.Minute); !errors.Is(err, analysis.ErrBadSignature) {
		t.Errorf("analysis.VerifyWebhook(key, h, body, now.Add(2*time.Minute), time.Minute) = %v, want an error matching %v", err, analysis.ErrBadSignature)
	}
	h.Set(analysis.TimestampHeader, "soon")
	if err := analysis.VerifyWebhook(key, h, body, now, time.Minute); !errors.Is(err, analysis.ErrBadSignature) {
		t.Errorf("analysis.VerifyWebhook(key, h, body, now, time.Minute) = %v, want an error matching %v", err, analysis.ErrBadSignature)
	}
	if !strings.HasPrefix(analysis.Sign(key, ts, body), "sha256=") {
		t.Error(`strings.HasPrefix(analysis.Sign(key, ts, body), "sha256=") = false, want true`)
	}
}

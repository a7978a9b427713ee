package analysis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

func TestHTTPSource(t *testing.T) {
	var status int
	var body string
	var gotURL string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotURL = r.URL.String()
		assert.Equal(t, "Bearer t", r.Header.Get("Authorization"))
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
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				assert.Equal(t, tt.permanent, strategy.IsPermanent(err))
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, v)
		})
	}

	// Placeholders in the URL are percent-encoded.
	status, body = 200, `{"v":1}`
	in := input()
	in.Canary = "v2&admin=1/../x y"
	c := &analysis.Check{Label: "web", Source: &analysis.HTTP{Path: "v", Header: http.Header{"Authorization": {"Bearer t"}}},
		Query: srv.URL + "/m?rev={{release.canary}}", SuccessCondition: "result == 1"}
	v, err := c.Analyze(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, strategy.Pass, v.Outcome)
	assert.Equal(t, "/m?rev=v2%26admin%3D1%2F..%2Fx%20y", gotURL)
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
	require.NoError(t, err)
	assert.Equal(t, strategy.Pass, v.Outcome)
	assert.Equal(t, "change-freeze", got.Gate)
	assert.Equal(t, strategy.Revision("v2"), got.Canary)
	assert.Equal(t, 40, got.State.Weight)
	assert.Equal(t, 2, got.Step)

	status, answer = 403, `{"reason":"change freeze until Monday"}`
	v, err = hook.Analyze(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, strategy.Fail, v.Outcome)
	assert.Equal(t, "refused (HTTP 403): change freeze until Monday", v.Reason)
	require.Len(t, v.Measurements, 1)
	assert.Equal(t, "HTTP 403", v.Measurements[0].Value)

	status, answer = 502, "bad gateway"
	v, err = hook.Analyze(context.Background(), in)
	require.Error(t, err)
	assert.Equal(t, strategy.Inconclusive, v.Outcome)

	// A receiver with another key refuses: the signature is what it trusts.
	wrong := &analysis.Webhook{Label: "x", URL: srv.URL, Secret: []byte("other")}
	v, err = wrong.Analyze(context.Background(), in)
	require.NoError(t, err)
	assert.Equal(t, strategy.Fail, v.Outcome)
	assert.Contains(t, v.Reason, "signature does not verify")

	// No answer at all is an error, never a pass.
	srv.Close()
	v, err = hook.Analyze(context.Background(), in)
	require.Error(t, err)
	assert.Equal(t, strategy.Inconclusive, v.Outcome)

	err = (&analysis.Webhook{URL: "ftp://x"}).Validate()
	require.ErrorIs(t, err, strategy.ErrInvalidConfig)
	for _, want := range []string{"no Label", "not an http or https URL", "no Secret"} {
		assert.Contains(t, err.Error(), want)
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
	require.NoError(t, analysis.VerifyWebhook(key, h, body, now.Add(10*time.Second), time.Minute))
	// The documented scheme: hex HMAC-SHA256 of "timestamp.body".
	assert.Equal(t, "sha256=c0c95169f90a536d30459de7bf904594de26a130a763bb6c2b81dbc116f495ee", h.Get(analysis.SignatureHeader))
	assert.ErrorIs(t, analysis.VerifyWebhook(key, h, []byte(`{"gate":"h"}`), now, time.Minute), analysis.ErrBadSignature)
	assert.ErrorIs(t, analysis.VerifyWebhook([]byte("other"), h, body, now, time.Minute), analysis.ErrBadSignature)
	assert.ErrorIs(t, analysis.VerifyWebhook(key, h, body, now.Add(2*time.Minute), time.Minute), analysis.ErrBadSignature)
	h.Set(analysis.TimestampHeader, "soon")
	assert.ErrorIs(t, analysis.VerifyWebhook(key, h, body, now, time.Minute), analysis.ErrBadSignature)
	assert.True(t, strings.HasPrefix(analysis.Sign(key, ts, body), "sha256="))
}

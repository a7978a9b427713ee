package analysis_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/analysis"
	"github.com/glidepath/glidepath/strategy"
)

// handlerTransport serves requests with a handler in process, so that the
// waits between retries pass in a synctest bubble's fake time.
type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// scripted answers each request with the next status and Retry-After, and
// records the requests' IDs and times.
type scripted struct {
	mu      sync.Mutex
	answers []struct {
		status     int
		retryAfter string
	}
	ids []string
	at  []time.Time
}

func (s *scripted) add(status int, retryAfter string) *scripted {
	s.answers = append(s.answers, struct {
		status     int
		retryAfter string
	}{status, retryAfter})
	return s
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	raw, _ := io.ReadAll(r.Body)
	var req analysis.WebhookRequest
	_ = json.Unmarshal(raw, &req)
	s.mu.Lock()
	n := len(s.ids)
	s.ids = append(s.ids, req.ID)
	s.at = append(s.at, time.Now())
	a := s.answers[min(n, len(s.answers)-1)]
	s.mu.Unlock()
	if a.retryAfter != "" {
		w.Header().Set("Retry-After", a.retryAfter)
	}
	w.WriteHeader(a.status)
	_, _ = io.WriteString(w, `{"reason":"busy"}`)
}

// A rate-limited or slow approval service is asked again, after the wait
// it asked for, instead of refusing the release.
func TestWebhookRetries408And429(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := (&scripted{}).add(429, "7").add(408, "").add(429, time.Now().Add(30*time.Second).UTC().Format(http.TimeFormat)).add(200, "")
		hook := &analysis.Webhook{Label: "approval", URL: "http://approval.invalid/", Secret: []byte("k"),
			Client: &http.Client{Transport: handlerTransport{s}}}
		start := time.Now()
		v, err := hook.Analyze(t.Context(), input())
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		if v.Outcome != strategy.Pass {
			t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
		}
		if len(s.at) != 4 {
			t.Fatalf("len(s.at) = %d, want %d: %v", len(s.at), 4, s.at)
		}
		if got := s.at[1].Sub(s.at[0]); got != 7*time.Second {
			t.Errorf("Retry-After in seconds: s.at[1].Sub(s.at[0]) = %v, want %v", got, 7*time.Second)
		}
		if got := s.at[2].Sub(s.at[1]); got != 2*time.Second {
			t.Errorf("no Retry-After: backoff 1s, 2s, ...: s.at[2].Sub(s.at[1]) = %v, want %v", got, 2*time.Second)
		}
		if got := s.at[3].Sub(start); got != 30*time.Second {
			t.Errorf("Retry-After as an HTTP date: until then: s.at[3].Sub(start) = %v, want %v", got, 30*time.Second)
		}
		if got := time.Since(start); got != 30*time.Second {
			t.Errorf("time.Since(start) = %v, want %v", got, 30*time.Second)
		}
		if len(v.Measurements) != 4 {
			t.Errorf("len(v.Measurements) = %d, want %d: %v", len(v.Measurements), 4, v.Measurements)
		}
		// Every attempt is a new request with its own ID.
		seen := map[string]bool{}
		for _, id := range s.ids {
			if len(id) == 0 {
				t.Error("id is empty, want non-empty")
			}
			if seen[id] {
				t.Error("seen[id] = true, want false")
			}
			seen[id] = true
		}
	})
}

// Retries are bounded: after Retries, or when the receiver asks for a
// longer wait than MaxRetryWait, the gate is Inconclusive (an error), never
// a refusal.
func TestWebhookRetriesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := (&scripted{}).add(429, "1")
		hook := &analysis.Webhook{Label: "a", URL: "http://approval.invalid/", Secret: []byte("k"), Retries: 2,
			Client: &http.Client{Transport: handlerTransport{s}}}
		v, err := hook.Analyze(t.Context(), input())
		if err == nil {
			t.Fatal("err = nil, want an error")
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if got := err.Error(); !strings.Contains(got, "still not answered after 2 retries") {
			t.Errorf("err.Error() = %q, want it to contain %q", got, "still not answered after 2 retries")
		}
		if len(s.ids) != 3 {
			t.Errorf("len(s.ids) = %d, want %d: %v", len(s.ids), 3, s.ids)
		}

		s = (&scripted{}).add(429, "3600")
		hook = &analysis.Webhook{Label: "a", URL: "http://approval.invalid/", Secret: []byte("k"), MaxRetryWait: time.Minute,
			Client: &http.Client{Transport: handlerTransport{s}}}
		v, err = hook.Analyze(t.Context(), input())
		if err == nil {
			t.Fatal("err = nil, want an error")
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
		if got := err.Error(); !strings.Contains(got, "asked to retry after 1h0m0s, longer than MaxRetryWait (1m0s)") {
			t.Errorf("err.Error() = %q, want it to contain %q", got, "asked to retry after 1h0m0s, longer than MaxRetryWait (1m0s)")
		}
		if len(s.ids) != 1 {
			t.Errorf("len(s.ids) = %d, want %d: %v", len(s.ids), 1, s.ids)
		}

		s = (&scripted{}).add(429, "")
		hook = &analysis.Webhook{Label: "a", URL: "http://approval.invalid/", Secret: []byte("k"), Retries: -1,
			Client: &http.Client{Transport: handlerTransport{s}}}
		_, err = hook.Analyze(t.Context(), input())
		if err == nil {
			t.Fatal("err = nil, want an error")
		}
		if len(s.ids) != 1 {
			t.Errorf("len(s.ids) = %d, want %d: %v", len(s.ids), 1, s.ids)
		}

		// The caller's context ends the wait.
		s = (&scripted{}).add(429, "50")
		hook = &analysis.Webhook{Label: "a", URL: "http://approval.invalid/", Secret: []byte("k"),
			Client: &http.Client{Transport: handlerTransport{s}}}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		v, err = hook.Analyze(ctx, input())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want an error matching %v", err, context.DeadlineExceeded)
		}
		if v.Outcome != strategy.Inconclusive {
			t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Inconclusive)
		}
	})
}

// Over real HTTP: a 429 with Retry-After: 0 is asked again at once.
func TestWebhook429OverHTTP(t *testing.T) {
	s := (&scripted{}).add(429, "0").add(204, "")
	srv := httptest.NewServer(s)
	defer srv.Close()
	hook := &analysis.Webhook{Label: "a", URL: srv.URL, Secret: []byte("k")}
	v, err := hook.Analyze(context.Background(), input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("%s: v.Outcome = %q, want %q", v.Reason, v.Outcome, strategy.Pass)
	}
}

// A receiver with a ReplayGuard accepts a request once: the same signed
// request sent again is refused, as is one with its ID changed.
func TestReplayGuard(t *testing.T) {
	key := []byte("hook-key")
	var mu sync.Mutex
	var captured []*http.Request
	var bodies [][]byte
	guard := &analysis.ReplayGuard{Secret: key, MaxAge: time.Minute}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		mu.Lock()
		captured, bodies = append(captured, r.Clone(context.Background())), append(bodies, raw)
		mu.Unlock()
		if _, err := guard.Verify(r.Header, raw, time.Now()); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	hook := &analysis.Webhook{Label: "a", URL: srv.URL, Secret: key}
	v, err := hook.Analyze(context.Background(), input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Fatalf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}

	// The attacker replays the captured request byte for byte.
	now := time.Now()
	_, err = guard.Verify(captured[0].Header, bodies[0], now)
	if !errors.Is(err, analysis.ErrReplayed) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrReplayed)
	}
	// Changing the ID breaks the signature.
	forged := strings.Replace(string(bodies[0]), `"id":"`, `"id":"x`, 1)
	_, err = guard.Verify(captured[0].Header, []byte(forged), now)
	if !errors.Is(err, analysis.ErrBadSignature) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrBadSignature)
	}
	// Once the request is older than MaxAge the timestamp refuses it, and
	// the guard has forgotten its ID.
	_, err = guard.Verify(captured[0].Header, bodies[0], now.Add(2*time.Minute))
	if !errors.Is(err, analysis.ErrBadSignature) {
		t.Fatalf("err = %v, want an error matching %v", err, analysis.ErrBadSignature)
	}
	// A second release asks again: a new ID, accepted.
	v, err = hook.Analyze(context.Background(), input())
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if v.Outcome != strategy.Pass {
		t.Errorf("v.Outcome = %q, want %q", v.Outcome, strategy.Pass)
	}
	if got, want := captured[1].Header.Get(analysis.RequestIDHeader), captured[0].Header.Get(analysis.RequestIDHeader); got == want {
		t.Errorf("request IDs of the first try and the retry are both %q, want them to differ", got)
	}
}

package spec

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// answers is an in-memory transport that answers with the statuses in
// order (0: a transport error) and records the requests.
type answers struct {
	statuses []int
	got      []*http.Request
	bodies   []string
	at       []time.Time
}

func (a *answers) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	a.got, a.bodies, a.at = append(a.got, r), append(a.bodies, string(b)), append(a.at, time.Now())
	s := a.statuses[min(len(a.got)-1, len(a.statuses)-1)]
	if s == 0 {
		return nil, errors.New("connection refused")
	}
	return &http.Response{StatusCode: s, Body: io.NopCloser(strings.NewReader("said " + http.StatusText(s))), Header: http.Header{}}, nil
}

func TestFlaggerWebhook(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		retries  int
		want     strategy.Outcome
		calls    int
	}{
		{"200 passes", []int{200}, 0, strategy.Pass, 1},
		{"202 passes", []int{202}, 0, strategy.Pass, 1},
		{"204 fails, as in Flagger (above 202)", []int{204}, 2, strategy.Fail, 1},
		{"400 fails at once", []int{400}, 3, strategy.Fail, 1},
		{"503 is retried", []int{503, 503, 200}, 2, strategy.Pass, 3},
		{"transport errors exhaust the retries", []int{0}, 2, strategy.Fail, 3},
		{"no retries", []int{0}, 0, strategy.Fail, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a := &answers{statuses: tc.statuses}
				w := &FlaggerWebhook{Label: "load-test", URL: "http://loadtester/", Canary: "podinfo", Namespace: "test",
					Metadata: map[string]string{"cmd": "hey"}, Retries: tc.retries, Client: &http.Client{Transport: a}}
				start := time.Now()
				v, err := w.Analyze(t.Context(), strategy.Input{})
				if err != nil || v.Outcome != tc.want || len(a.got) != tc.calls {
					t.Fatalf("verdict %v err %v calls %d", v, err, len(a.got))
				}
				var p map[string]any
				if err := json.Unmarshal([]byte(a.bodies[0]), &p); err != nil {
					t.Fatal(err)
				}
				if p["name"] != "podinfo" || p["namespace"] != "test" || p["phase"] != "Progressing" || p["metadata"].(map[string]any)["cmd"] != "hey" {
					t.Errorf("payload %v", p)
				}
				if a.got[0].Method != http.MethodPost || a.got[0].Header.Get("Content-Type") != "application/json" {
					t.Errorf("request %s %v", a.got[0].Method, a.got[0].Header)
				}
				for i := 1; i < len(a.at); i++ {
					if d := a.at[i].Sub(start); d != time.Duration(1<<i-1)*time.Second {
						t.Errorf("attempt %d after %v", i, d)
					}
				}
			})
		})
	}
}

func TestFlaggerWebhookStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 1500*time.Millisecond)
		defer cancel()
		a := &answers{statuses: []int{503}}
		w := &FlaggerWebhook{URL: "http://x/", Retries: 5, Client: &http.Client{Transport: a}}
		if _, err := w.Analyze(ctx, strategy.Input{}); !errors.Is(err, context.DeadlineExceeded) || len(a.got) != 2 {
			t.Fatalf("err %v calls %d", err, len(a.got))
		}
	})
}

package spec

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// DefaultFlaggerWebhookTimeout is Flagger's default webhook timeout.
const DefaultFlaggerWebhookTimeout = 10 * time.Second

// FlaggerWebhook is a Flagger webhook as an analyzer: it POSTs Flagger's
// JSON payload ({"name", "namespace", "phase": "Progressing", "checksum",
// "metadata"}) to URL and passes when the answer's status is 202 or less,
// as Flagger's rollout and pre-rollout hooks do, so existing receivers
// (Flagger's load tester, acceptance test runners) work unchanged. Any other
// status, or no answer after the retries, fails: Flagger counts it as a
// failed check.
type FlaggerWebhook struct {
	// Label names the analyzer in verdicts (the webhook's name).
	Label string
	// URL receives the POST.
	URL string
	// Canary and Namespace fill the payload's name and namespace.
	Canary, Namespace string
	// Metadata is the webhook's metadata, sent as is.
	Metadata map[string]string
	// Timeout bounds each attempt (default [DefaultFlaggerWebhookTimeout]).
	Timeout time.Duration
	// Retries is how many times a transport error or a 5xx answer is
	// retried, after 1s, 2s, 4s... (at most 30s), as Flagger's client does.
	Retries int
	// Client sends the requests; nil uses Go's default client.
	Client *http.Client
}

// Name returns the Label.
func (w *FlaggerWebhook) Name() string { return w.Label }

type flaggerPayload struct {
	Name      string            `json:"name"`
	Namespace string            `json:"namespace"`
	Phase     string            `json:"phase"`
	Checksum  string            `json:"checksum"`
	Metadata  map[string]string `json:"metadata,omitempty"`
}

// Analyze calls the webhook.
func (w *FlaggerWebhook) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	body, err := json.Marshal(flaggerPayload{Name: w.Canary, Namespace: w.Namespace, Phase: "Progressing", Metadata: w.Metadata})
	if err != nil {
		return strategy.Verdict{}, err
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultFlaggerWebhookTimeout
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	var last string
	for attempt := 0; attempt <= max(w.Retries, 0); attempt++ {
		if attempt > 0 {
			if !sleep.For(ctx, min(time.Second<<(attempt-1), 30*time.Second)) {
				return strategy.Verdict{}, ctx.Err()
			}
		}
		status, answer, err := w.post(ctx, client, body, timeout)
		switch {
		case ctx.Err() != nil:
			return strategy.Verdict{}, ctx.Err()
		case err != nil:
			last = err.Error()
			continue
		case status <= http.StatusAccepted:
			return strategy.Verdict{Analyzer: w.Label, Outcome: strategy.Pass, Reason: fmt.Sprintf("webhook answered %d", status)}, nil
		case status >= 500 && status != http.StatusNotImplemented:
			last = fmt.Sprintf("webhook answered %d: %s", status, answer)
			continue
		default:
			return strategy.Verdict{Analyzer: w.Label, Outcome: strategy.Fail, Reason: fmt.Sprintf("webhook answered %d: %s", status, answer)}, nil
		}
	}
	return strategy.Verdict{Analyzer: w.Label, Outcome: strategy.Fail, Reason: "webhook failed: " + last}, nil
}

func (w *FlaggerWebhook) post(ctx context.Context, client *http.Client, body []byte, timeout time.Duration) (int, string, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return resp.StatusCode, strings.TrimSpace(string(b)), nil
}

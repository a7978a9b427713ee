package analysis

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// The headers a [Webhook] signs its requests with.
const (
	// TimestampHeader carries the time the request was signed, in Unix
	// seconds.
	TimestampHeader = "X-Glidepath-Timestamp"
	// SignatureHeader carries "sha256=" and the lowercase hex HMAC-SHA256,
	// keyed with the webhook's Secret, of the timestamp header's value, a
	// "." and the raw request body.
	SignatureHeader = "X-Glidepath-Signature"
)

// DefaultWebhookTimeout bounds a webhook call when Webhook.Timeout is zero.
const DefaultWebhookTimeout = 10 * time.Second

// WebhookRequest is the JSON body a [Webhook] POSTs.
type WebhookRequest struct {
	// Gate is the webhook's Label.
	Gate string `json:"gate"`
	// Release, Stable and Canary identify the release.
	Release string            `json:"release"`
	Stable  strategy.Revision `json:"stableRevision"`
	Canary  strategy.Revision `json:"canaryRevision"`
	// State is the State applied now.
	State strategy.State `json:"state"`
	// Step is the index of the step asking.
	Step int `json:"step"`
	// Background is true when the gate runs alongside the plan.
	Background bool `json:"background"`
	// SentAt is when the request was made.
	SentAt time.Time `json:"sentAt"`
}

// Webhook is a gate: it POSTs a [WebhookRequest] describing the release to
// URL and passes when the receiver answers 2xx. A 4xx answer is a refusal:
// the verdict is Fail, with the body's "reason" field (or the start of the
// body) as the reason. No answer, a timeout or a 5xx is an error, which the
// executor treats as Inconclusive, never as a pass.
//
// Every request is signed so the receiver can trust it: the [TimestampHeader]
// holds the Unix time in seconds, and the [SignatureHeader] holds
// "sha256=" followed by the lowercase hex HMAC-SHA256, keyed with Secret, of
// the timestamp, a "." and the exact body bytes. [VerifyWebhook] checks both.
type Webhook struct {
	// Label names the gate in verdicts. Required.
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
	// URL receives the POST. Required (http or https).
	URL string `json:"url,omitempty" yaml:"url,omitempty"`
	// Secret keys the HMAC-SHA256 signature. Required.
	Secret []byte `json:"-" yaml:"-"`
	// Header is added to every request.
	Header http.Header `json:"header,omitempty" yaml:"header,omitempty"`
	// Client sends the request; nil uses a client with Go's default
	// transport that does not follow redirects.
	Client *http.Client `json:"-" yaml:"-"`
	// Timeout bounds the call (default [DefaultWebhookTimeout]).
	Timeout time.Duration `json:"-" yaml:"timeout,omitempty"`
}

// Name returns the webhook's Label.
func (w *Webhook) Name() string { return w.Label }

// Validate reports every problem with the webhook at once.
func (w *Webhook) Validate() error {
	var probs []string
	if w.Label == "" {
		probs = append(probs, "no Label: every gate needs a name")
	}
	if !strings.HasPrefix(w.URL, "http://") && !strings.HasPrefix(w.URL, "https://") {
		probs = append(probs, fmt.Sprintf("URL %q is not an http or https URL", w.URL))
	}
	if len(w.Secret) == 0 {
		probs = append(probs, "no Secret: the receiver could not verify the request")
	}
	if w.Timeout < 0 {
		probs = append(probs, fmt.Sprintf("Timeout is negative (%v)", w.Timeout))
	}
	return strategy.Invalid(fmt.Sprintf("webhook %q", w.Label), probs...)
}

// Sign returns the value of the [SignatureHeader] for a body signed at
// timestamp (Unix seconds, as sent in the [TimestampHeader]).
func Sign(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// ErrBadSignature is returned by [VerifyWebhook] for a request that was not
// signed with the secret, or was signed too long ago.
var ErrBadSignature = errors.New("webhook signature does not verify")

// VerifyWebhook checks, for the receiver of a [Webhook], that body was
// signed with secret less than maxAge before now (and not more than maxAge
// after it, for clock skew). Use the raw body bytes, before decoding.
func VerifyWebhook(secret []byte, h http.Header, body []byte, now time.Time, maxAge time.Duration) error {
	ts := h.Get(TimestampHeader)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: bad %s %q", ErrBadSignature, TimestampHeader, ts)
	}
	if age := now.Sub(time.Unix(sec, 0)); age > maxAge || age < -maxAge {
		return fmt.Errorf("%w: signed %v ago, more than %v", ErrBadSignature, age.Round(time.Second), maxAge)
	}
	if !hmac.Equal([]byte(h.Get(SignatureHeader)), []byte(Sign(secret, ts, body))) {
		return ErrBadSignature
	}
	return nil
}

// Analyze asks the receiver once.
func (w *Webhook) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	v := strategy.Verdict{Analyzer: w.Label, Outcome: strategy.Inconclusive}
	if err := w.Validate(); err != nil {
		v.Reason, v.At = err.Error(), time.Now()
		return v, strategy.Permanent(err)
	}
	now := time.Now()
	body, err := json.Marshal(WebhookRequest{Gate: w.Label, Release: in.Release, Stable: in.Stable, Canary: in.Canary,
		State: in.CurrentState(), Step: in.Step, Background: in.Background, SentAt: now.UTC()})
	if err != nil {
		return v, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDur(w.Timeout, DefaultWebhookTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return v, strategy.Permanent(err)
	}
	for k, vs := range w.Header {
		for _, x := range vs {
			req.Header.Add(k, x)
		}
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(w.Secret, ts, body))
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	m := strategy.Measurement{Name: w.Label, At: now, Condition: "2xx passes, 4xx fails"}
	resp, err := client.Do(req)
	if err != nil {
		m.Error = err.Error()
		v.Measurements, v.At = []strategy.Measurement{m}, time.Now()
		v.Reason = "no answer: " + err.Error()
		return v, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	m.Value = fmt.Sprintf("HTTP %d", resp.StatusCode)
	v.At = time.Now()
	switch resp.StatusCode / 100 {
	case 2:
		m.Outcome, v.Outcome = strategy.Pass, strategy.Pass
		v.Reason = "accepted (" + m.Value + ")"
	case 4:
		m.Outcome, v.Outcome = strategy.Fail, strategy.Fail
		v.Reason = "refused (" + m.Value + ")"
		if why := refusal(rb); why != "" {
			v.Reason += ": " + why
		}
	default:
		err := fmt.Errorf("webhook answered HTTP %d: %s", resp.StatusCode, snippet(rb))
		m.Error = err.Error()
		v.Reason = err.Error()
		v.Measurements = []strategy.Measurement{m}
		return v, err
	}
	v.Measurements = []strategy.Measurement{m}
	return v, nil
}

// refusal extracts why a receiver refused: a JSON "reason" field, or the
// start of the body.
func refusal(body []byte) string {
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &r) == nil && r.Reason != "" {
		return oneLine(r.Reason)
	}
	return snippet(body)
}

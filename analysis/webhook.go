package analysis

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/glidepath/glidepath/internal/sleep"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
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
	// RequestIDHeader repeats the request's ID ([WebhookRequest].ID), for
	// logs. The header itself is not signed: the ID in the signed body is
	// the one to trust.
	RequestIDHeader = "X-Glidepath-Request-Id"
)

// Defaults for the zero values of [Webhook] fields.
const (
	// DefaultWebhookTimeout bounds one webhook request when
	// Webhook.Timeout is zero.
	DefaultWebhookTimeout = 10 * time.Second
	// DefaultWebhookRetries is how many times a 408 or 429 answer is
	// retried when Webhook.Retries is zero.
	DefaultWebhookRetries = 3
	// DefaultWebhookMaxRetryWait bounds the wait before a retry when
	// Webhook.MaxRetryWait is zero.
	DefaultWebhookMaxRetryWait = time.Minute
)

// WebhookRequest is the JSON body a [Webhook] POSTs.
type WebhookRequest struct {
	// ID is unique to this request (128 random bits): every attempt,
	// retries included, has its own. It is inside the signed body, so a
	// receiver that remembers the IDs it has seen for the signature's
	// maximum age refuses a replayed request (see [ReplayGuard]).
	ID string `json:"id"`
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
// body) as the reason, except 408 (Request Timeout) and 429 (Too Many
// Requests), which mean "not now": they are retried up to Retries times,
// after the Retry-After the receiver asked for (seconds or an HTTP date)
// or, without one, after 1s, 2s, 4s..., never waiting longer than
// MaxRetryWait (a receiver asking for a longer wait ends the call). No
// answer, a timeout, a 5xx, or a 408 or 429 still there after the retries
// is an error, which the executor treats as Inconclusive, never as a pass
// or a refusal.
//
// Every request is signed so the receiver can trust it: the [TimestampHeader]
// holds the Unix time in seconds, and the [SignatureHeader] holds
// "sha256=" followed by the lowercase hex HMAC-SHA256, keyed with Secret, of
// the timestamp, a "." and the exact body bytes. The body holds a random
// request ID, so the signature binds the ID to the timestamp.
// [VerifyWebhook] checks the signature and the timestamp; a [ReplayGuard]
// also refuses a request whose ID it has already seen.
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
	// Timeout bounds each request (default [DefaultWebhookTimeout]).
	Timeout time.Duration `json:"-" yaml:"timeout,omitempty"`
	// Retries is how many times a 408 or 429 answer is retried (default
	// [DefaultWebhookRetries]; negative: never).
	Retries int `json:"retries,omitempty" yaml:"retries,omitempty"`
	// MaxRetryWait bounds the wait before a retry (default
	// [DefaultWebhookMaxRetryWait]).
	MaxRetryWait time.Duration `json:"-" yaml:"maxRetryWait,omitempty"`
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
	if w.MaxRetryWait < 0 {
		probs = append(probs, fmt.Sprintf("MaxRetryWait is negative (%v)", w.MaxRetryWait))
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

// Analyze asks the receiver, retrying a 408 or 429 answer as the type's
// documentation says.
func (w *Webhook) Analyze(ctx context.Context, in strategy.Input) (strategy.Verdict, error) {
	v := strategy.Verdict{Analyzer: w.Label, Outcome: strategy.Inconclusive}
	if err := w.Validate(); err != nil {
		v.Reason, v.At = err.Error(), time.Now()
		return v, strategy.Permanent(err)
	}
	retries := w.Retries
	if retries == 0 {
		retries = DefaultWebhookRetries
	}
	maxWait := orDur(w.MaxRetryWait, DefaultWebhookMaxRetryWait)
	ctx = withRedactor(ctx, &redactor{secrets: []string{string(w.Secret)}})
	for attempt := 0; ; attempt++ {
		m, status, retryAfter, rb, err := w.ask(ctx, in)
		v.Measurements = append(v.Measurements, m)
		v.At = time.Now()
		if err != nil {
			v.Reason = "no answer: " + err.Error()
			return v, err
		}
		switch {
		case status/100 == 2:
			v.Outcome = strategy.Pass
			v.Reason = "accepted (" + m.Value + ")"
			return v, nil
		case status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
			wait, asked := retryAfter, retryAfter >= 0
			if !asked {
				wait = time.Second << min(attempt, 30)
			}
			var why string
			switch {
			case retries < 0 || attempt >= retries:
				why = fmt.Sprintf("still not answered after %d retries", max(retries, 0))
			case asked && wait > maxWait:
				why = fmt.Sprintf("the receiver asked to retry after %v, longer than MaxRetryWait (%v)", wait, maxWait)
			}
			if why != "" {
				err := fmt.Errorf("webhook answered HTTP %d (%s): %s", status, why, snippet(ctx, rb))
				v.Reason = err.Error()
				return v, err
			}
			if !sleep.For(ctx, min(wait, maxWait)) {
				err := context.Cause(ctx)
				v.Reason = fmt.Sprintf("stopped while waiting to retry HTTP %d: %v", status, err)
				return v, err
			}
		case status/100 == 4:
			v.Outcome = strategy.Fail
			v.Reason = "refused (" + m.Value + ")"
			if why := refusal(ctx, rb); why != "" {
				v.Reason += ": " + why
			}
			return v, nil
		default:
			err := fmt.Errorf("webhook answered HTTP %d: %s", status, snippet(ctx, rb))
			v.Reason = err.Error()
			return v, err
		}
	}
}

// ask sends one signed request. It returns the measurement, the status,
// the Retry-After the receiver asked for (-1 when none), and the start of
// the body.
func (w *Webhook) ask(ctx context.Context, in strategy.Input) (strategy.Measurement, int, time.Duration, []byte, error) {
	now := time.Now()
	m := strategy.Measurement{Name: w.Label, At: now, Condition: "2xx passes, 4xx fails, 408 and 429 are retried"}
	id := rand.Text()
	body, err := json.Marshal(WebhookRequest{ID: id, Gate: w.Label, Release: in.Release, Stable: in.Stable, Canary: in.Canary,
		State: in.CurrentState(), Step: in.Step, Background: in.Background, SentAt: now.UTC()})
	if err != nil {
		m.Error = err.Error()
		return m, 0, -1, nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, orDur(w.Timeout, DefaultWebhookTimeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		m.Error = err.Error()
		return m, 0, -1, nil, strategy.Permanent(err)
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
	req.Header.Set(RequestIDHeader, id)
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		m.Error = err.Error()
		return m, 0, -1, nil, err
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	m.Value = fmt.Sprintf("HTTP %d", resp.StatusCode)
	switch {
	case resp.StatusCode/100 == 2:
		m.Outcome = strategy.Pass
	case resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode == http.StatusTooManyRequests:
		m.Error = m.Value + ": not now"
	case resp.StatusCode/100 == 4:
		m.Outcome = strategy.Fail
	default:
		m.Error = m.Value
	}
	return m, resp.StatusCode, retryAfter(resp.Header.Get("Retry-After"), time.Now()), rb, nil
}

// retryAfter parses a Retry-After header: delay seconds or an HTTP date.
// It returns -1 when there is none or it cannot be read.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return -1
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 {
			return -1
		}
		return time.Duration(min(n, int64(math.MaxInt64/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// ErrReplayed is returned by [ReplayGuard.Verify] for a request whose ID it
// has already accepted.
var ErrReplayed = errors.New("webhook request replayed")

// ReplayGuard is the receiver's side of a [Webhook]: it verifies a
// request's signature and age with [VerifyWebhook], and refuses a request
// whose ID ([WebhookRequest].ID, inside the signed body) it has already
// accepted. It remembers an ID until the request's timestamp is older than
// MaxAge, after which the timestamp check refuses the request anyway, so
// its memory is bounded by the requests of one MaxAge. It is safe for
// concurrent use. Receivers with several replicas need a shared store of
// IDs instead (the same check: an ID is accepted once within MaxAge).
type ReplayGuard struct {
	// Secret is the webhook's Secret. Required.
	Secret []byte
	// MaxAge is how old (or, for clock skew, how far in the future) a
	// request's timestamp may be (default 5 minutes).
	MaxAge time.Duration

	mu   sync.Mutex
	seen map[string]time.Time // ID → when it may be forgotten
}

// DefaultReplayMaxAge is a ReplayGuard's MaxAge when it is zero.
const DefaultReplayMaxAge = 5 * time.Minute

// Verify checks a request received at now: its signature and timestamp,
// then that its body is a [WebhookRequest] with an ID not seen before. It
// returns the decoded request. Pass the raw body bytes, before decoding.
// The errors match [ErrBadSignature] or [ErrReplayed].
func (g *ReplayGuard) Verify(h http.Header, body []byte, now time.Time) (WebhookRequest, error) {
	var req WebhookRequest
	maxAge := orDur(g.MaxAge, DefaultReplayMaxAge)
	if err := VerifyWebhook(g.Secret, h, body, now, maxAge); err != nil {
		return req, err
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return req, fmt.Errorf("%w: the body is not a webhook request: %v", ErrBadSignature, err)
	}
	if req.ID == "" {
		return req, fmt.Errorf("%w: the request has no id", ErrBadSignature)
	}
	sec, _ := strconv.ParseInt(h.Get(TimestampHeader), 10, 64) // VerifyWebhook parsed it
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, until := range g.seen {
		if now.After(until) {
			delete(g.seen, id)
		}
	}
	if _, dup := g.seen[req.ID]; dup {
		return req, fmt.Errorf("%w: request %s was already accepted", ErrReplayed, req.ID)
	}
	if g.seen == nil {
		g.seen = map[string]time.Time{}
	}
	g.seen[req.ID] = time.Unix(sec, 0).Add(maxAge)
	return req, nil
}

// refusal extracts why a receiver refused: a JSON "reason" field, or the
// start of the body.
func refusal(ctx context.Context, body []byte) string {
	var r struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &r) == nil && r.Reason != "" {
		return Excerpt(ctx, r.Reason, snippetLen)
	}
	return snippet(ctx, body)
}

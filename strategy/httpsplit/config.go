package httpsplit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/glidepath/glidepath/strategy"
)

// Defaults used when the matching [Config] field is zero.
const (
	DefaultHealthPath    = "/healthz"
	DefaultHealthTimeout = 2 * time.Second
)

// DefaultBuckets are the latency histogram's upper bounds in seconds when
// [Config].Buckets is empty: from 250µs, fine enough for services on the
// same host or network, up to 10s.
var DefaultBuckets = []float64{.00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// Config configures a [Splitter]. Only Initial and an upstream for each of
// its revisions are required; every other zero value has a documented
// default.
type Config struct {
	// Upstreams maps each revision to the base URL of the server that runs
	// it, for example "http://10.0.0.7:8080". A request for /a/b is sent
	// to the base URL's path joined with /a/b.
	Upstreams map[strategy.Revision]string
	// Resolve, when set, is asked (by New and Apply) for the URL of every
	// revision that Upstreams does not name. Errors from it are retried by
	// the executor; return a [strategy.Permanent] error for a revision
	// that cannot exist.
	Resolve func(ctx context.Context, rev strategy.Revision) (*url.URL, error)
	// Initial is the State served from New until the first Apply. It must
	// name at least a stable revision.
	Initial strategy.State
	// Sticky makes the weighted split sticky per client. The zero value
	// splits each request independently.
	Sticky Sticky
	// HealthPath is the path Observe requests (GET) on each upstream,
	// joined to the upstream's base path; a 2xx answer means up. Default
	// [DefaultHealthPath].
	HealthPath string
	// HealthTimeout bounds one health check. Default [DefaultHealthTimeout].
	HealthTimeout time.Duration
	// Transport carries proxied requests and health checks. The default is
	// a clone of http.DefaultTransport that keeps up to 512 idle
	// connections per upstream (the standard library keeps 2, which makes
	// a busy proxy open a connection for most requests) and passes each
	// client's Accept-Encoding through unchanged (the standard library
	// would ask upstreams for gzip on behalf of clients that did not, and
	// spend the proxy's CPU decompressing the answers). With the default,
	// bodiless GET and HEAD requests to plain-HTTP upstreams take the
	// splitter's own forwarding path (see Forwarding in the package
	// docs), with the same settings; a Transport given here carries every
	// request, through httputil.ReverseProxy.
	Transport http.RoundTripper
	// PreserveHost forwards the client's Host header instead of the
	// upstream URL's host.
	PreserveHost bool
	// RevisionHeader, when set, names a response header that carries the
	// revision that served the request, for example "X-Revision".
	RevisionHeader string
	// Buckets are the latency histogram's upper bounds in seconds, in
	// increasing order. Default [DefaultBuckets].
	Buckets []float64
	// ConstLabels are added to every exported metric, to tell several
	// splitters apart in one registry.
	ConstLabels prometheus.Labels
	// Namespace and Subsystem are the first two parts of every metric's
	// name (namespace_subsystem_name). Defaults [DefaultNamespace] and
	// [DefaultSubsystem]; "-" leaves the part out.
	Namespace, Subsystem string
	// RealIP says what the splitter does with an X-Real-IP header: by
	// default ([RealIPDrop]) a client's is removed, as its X-Forwarded-*
	// headers are, so that no client can claim another address to an
	// upstream that trusts the header.
	RealIP RealIP
	// Registerer, when set, is where New registers the splitter's metrics.
	// Without it, register the Splitter yourself (it is a
	// prometheus.Collector) or read the numbers with Stats.
	Registerer prometheus.Registerer
	// IdleTimeout is how long [Splitter.Serve] keeps a client connection
	// that sends no request open, and how long it waits for a request's
	// header. Default [DefaultIdleTimeout]. It does not apply to a
	// Splitter mounted on a server of your own.
	IdleTimeout time.Duration
	// Logger receives upstream failures (at warn level). Nil discards them;
	// they are counted as errors either way.
	Logger *slog.Logger
}

// RealIP is what a [Splitter] forwards as X-Real-IP.
type RealIP int

const (
	// RealIPDrop removes the X-Real-IP header a client sent.
	RealIPDrop RealIP = iota
	// RealIPSet replaces it with the client's address (the address in
	// X-Forwarded-For).
	RealIPSet
)

// Defaults of [Config].Namespace and [Config].Subsystem.
const (
	DefaultNamespace = "glidepath"
	DefaultSubsystem = "httpsplit"
)

// Sticky selects the client key that makes the weighted split sticky. When
// both are set, Header is used when present and Cookie otherwise.
type Sticky struct {
	// Header names a request header whose value identifies the client,
	// for example "X-User-ID".
	Header string
	// Cookie names a cookie that identifies the client. During a release
	// a client that does not send it is given one (a random key) with the
	// response, so its next requests land on the same revision.
	Cookie string
}

// IsZero reports whether s is the zero Sticky (split per request).
func (s Sticky) IsZero() bool { return s == Sticky{} }

// Validate reports every problem with c at once, as an error matching
// [strategy.ErrInvalidConfig], or nil.
func (c Config) Validate() error {
	var p []string
	revs := make([]string, 0, len(c.Upstreams))
	for rev := range c.Upstreams {
		revs = append(revs, string(rev))
	}
	sort.Strings(revs)
	for _, rev := range revs {
		if rev == "" {
			p = append(p, "upstreams: empty revision name")
			continue
		}
		if _, err := parseUpstream(c.Upstreams[strategy.Revision(rev)]); err != nil {
			p = append(p, fmt.Sprintf("upstreams: revision %s: %v", rev, err))
		}
	}
	var ce *strategy.ConfigError
	if errors.As(c.Initial.Validate(), &ce) {
		for _, q := range ce.Problems {
			p = append(p, "initial state: "+q)
		}
	}
	if c.Resolve == nil {
		for _, rev := range []strategy.Revision{c.Initial.Stable, c.Initial.Canary} {
			if _, ok := c.Upstreams[rev]; rev != "" && !ok {
				p = append(p, fmt.Sprintf("initial state: revision %s has no upstream (set Upstreams[%q] or Resolve)", rev, rev))
			}
		}
	}
	if c.HealthPath != "" && !strings.HasPrefix(c.HealthPath, "/") {
		p = append(p, fmt.Sprintf("health path %q does not start with /", c.HealthPath))
	}
	if c.IdleTimeout < 0 {
		p = append(p, fmt.Sprintf("idle timeout %v is negative", c.IdleTimeout))
	}
	if c.HealthTimeout < 0 {
		p = append(p, fmt.Sprintf("health timeout %v is negative", c.HealthTimeout))
	}
	if c.Sticky.Cookie != "" && (&http.Cookie{Name: c.Sticky.Cookie, Value: "x"}).Valid() != nil {
		p = append(p, fmt.Sprintf("sticky cookie name %q is not a valid cookie name", c.Sticky.Cookie))
	}
	if c.Sticky.Header != "" && !validHeaderName(c.Sticky.Header) {
		p = append(p, fmt.Sprintf("sticky header %q is not a valid header name", c.Sticky.Header))
	}
	if c.RevisionHeader != "" && !validHeaderName(c.RevisionHeader) {
		p = append(p, fmt.Sprintf("revision header %q is not a valid header name", c.RevisionHeader))
	}
	if c.RealIP != RealIPDrop && c.RealIP != RealIPSet {
		p = append(p, fmt.Sprintf("real IP mode %d is neither RealIPDrop nor RealIPSet", c.RealIP))
	}
	for _, part := range []struct{ field, v string }{{"namespace", c.Namespace}, {"subsystem", c.Subsystem}} {
		if part.v != "" && part.v != "-" && !metricNamePart.MatchString(part.v) {
			p = append(p, fmt.Sprintf("metric %s %q is not a valid part of a Prometheus metric name", part.field, part.v))
		}
	}
	for i := 1; i < len(c.Buckets); i++ {
		if !(c.Buckets[i] > c.Buckets[i-1]) {
			p = append(p, fmt.Sprintf("buckets are not strictly increasing at index %d (%g after %g)", i, c.Buckets[i], c.Buckets[i-1]))
			break
		}
	}
	return strategy.Invalid("httpsplit config", p...)
}

var metricNamePart = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)

// parseUpstream checks that raw is an absolute http or https URL.
func parseUpstream(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	return u, checkUpstream(u)
}

func checkUpstream(u *url.URL) error {
	if u == nil {
		return fmt.Errorf("no URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return fmt.Errorf("URL %q has no host", u.Redacted())
	}
	return nil
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

package httpsplit

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// StatusClientClosedRequest is the status recorded (and written, if the
// client is still listening) for a request whose client went away before
// the upstream answered. It is not counted as an error: the client, not
// the revision, ended it.
const StatusClientClosedRequest = 499

// Splitter is a reverse proxy that splits HTTP traffic between a stable and
// a canary upstream. It is an [http.Handler], a [strategy.Target], a
// [strategy.HeaderRouter] and a [strategy.FencedTarget], and a
// [prometheus.Collector] of its metrics.
// Create it with [New]; its methods are safe for concurrent use.
//
// [prometheus.Collector]: https://pkg.go.dev/github.com/prometheus/client_golang/prometheus#Collector
type Splitter struct {
	cfg       Config
	transport http.RoundTripper
	owned     bool // transport was created by New
	health    *http.Client
	dialer    *net.Dialer // for the fast path's connections
	fixed     map[strategy.Revision]*url.URL
	m         *metrics
	closed    atomic.Bool

	table atomic.Pointer[table]

	mu        sync.Mutex // serialises Apply; guards upstreams, revs and fence
	upstreams map[strategy.Revision]*upstream
	revs      map[strategy.Revision]*revMetrics
	fence     uint64 // the highest fencing token ApplyFenced has accepted

	srvMu   sync.Mutex // guards servers; taken after closed is set by Close
	servers map[*server]struct{}
}

var (
	_ strategy.HeaderRouter = (*Splitter)(nil)
	_ strategy.FencedTarget = (*Splitter)(nil)
	_ http.Handler          = (*Splitter)(nil)
	_ io.Closer             = (*Splitter)(nil)
)

// upstream is one revision's server and the proxy that talks to it. It is
// immutable once built.
type upstream struct {
	rev   strategy.Revision
	url   *url.URL
	proxy *httputil.ReverseProxy
	pool  *connPool // the fast path's connections; nil when it has none
	m     *revMetrics
}

// table is an immutable routing decision: what Apply last accepted.
type table struct {
	state  strategy.State
	stable *upstream // nil when the State has no stable revision
	canary *upstream // nil when the State has no canary
	weight int       // percent of ordinary traffic on canary
	salt   uint64    // FNV-1a state after hashing the canary revision
	route  *matcher  // nil when no header route
}

// matcher is a compiled [strategy.HeaderRoute].
type matcher struct {
	header string // canonical header key
	exact  string
	prefix string
	re     *regexp.Regexp
	kind   byte // 'e', 'p' or 'r'
}

// New validates cfg and returns a Splitter serving cfg.Initial. ctx bounds
// the resolution of the initial revisions' upstreams (cfg.Resolve). When
// cfg.Registerer is set, the splitter's metrics are registered with it.
func New(ctx context.Context, cfg Config) (*Splitter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.HealthPath == "" {
		cfg.HealthPath = DefaultHealthPath
	}
	if cfg.HealthTimeout == 0 {
		cfg.HealthTimeout = DefaultHealthTimeout
	}
	if len(cfg.Buckets) == 0 {
		cfg.Buckets = DefaultBuckets
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	cfg.Upstreams = maps.Clone(cfg.Upstreams)
	s := &Splitter{
		cfg:       cfg,
		transport: cfg.Transport,
		fixed:     make(map[strategy.Revision]*url.URL, len(cfg.Upstreams)),
		upstreams: map[strategy.Revision]*upstream{},
		revs:      map[strategy.Revision]*revMetrics{},
		servers:   map[*server]struct{}{},
		m:         newMetrics(cfg.Namespace, cfg.Subsystem, cfg.Buckets, cfg.ConstLabels),
		dialer:    &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second},
	}
	for rev, raw := range cfg.Upstreams {
		u, _ := parseUpstream(raw) // checked by Validate
		s.fixed[rev] = u
	}
	if s.transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns = 0 // no global limit
		t.MaxIdleConnsPerHost = 512
		// Pass the client's Accept-Encoding through as it is: the
		// transport would otherwise ask upstreams for gzip on behalf of
		// clients that did not, and decompress those answers itself.
		t.DisableCompression = true
		s.transport = t
		s.owned = true
	}
	s.health = &http.Client{
		Transport: s.transport,
		// A redirect is not a healthy answer.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	t, err := s.build(ctx, cfg.Initial)
	if err != nil {
		s.CloseIdleConnections()
		return nil, fmt.Errorf("httpsplit: initial state: %w", err)
	}
	s.table.Store(t)
	s.m.weight.Set(float64(t.weight) / 100)
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(s); err != nil {
			s.CloseIdleConnections()
			return nil, fmt.Errorf("httpsplit: registering metrics: %w", err)
		}
	}
	return s, nil
}

// State returns the State the splitter serves now.
func (s *Splitter) State() strategy.State { return s.table.Load().state }

// SupportsHeaderRouting reports true: the splitter pins requests that match
// a State's [strategy.HeaderRoute] to the canary.
func (s *Splitter) SupportsHeaderRouting() bool { return true }

// Apply makes the splitter serve desired. The new routing table replaces
// the old one atomically: requests already being proxied finish on the
// upstream they started on, and every later request sees desired. A State
// that is invalid, names a revision without an upstream or carries a regex
// that does not compile is refused with a [strategy.Permanent] error.
// Apply is idempotent. Apply is not fenced: it applies desired whatever
// token [Splitter.ApplyFenced] last accepted.
func (s *Splitter) Apply(ctx context.Context, desired strategy.State) error {
	return s.ApplyFenced(ctx, desired, 0)
}

// ApplyFenced applies desired as [Splitter.Apply] does, on behalf of the
// lease holder whose fencing token is token; it implements
// [strategy.FencedTarget]. The splitter remembers the highest token it has
// accepted and refuses a write carrying a lower one, leaving the State it
// serves unchanged, with a [strategy.Permanent] error that matches
// [strategy.ErrFenced]: a driver that lost its lease cannot move traffic
// after its successor did. A token equal to the highest is accepted (a
// retry of the same holder, or its next step). A token of 0 means "no
// lease": desired is applied as Apply would, and the remembered token is
// not raised. The check, the swap of the routing table and the raise of
// the remembered token happen under one lock, so of concurrent calls the
// one with the highest token is applied last. The token is raised only by
// a write that is applied: a State refused as invalid, or whose upstream
// cannot be resolved, fences no one. The remembered token lives in the
// Splitter's memory; a new Splitter starts with none.
func (s *Splitter) ApplyFenced(ctx context.Context, desired strategy.State, token uint64) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if token != 0 && token < s.fence {
		return strategy.Permanent(fmt.Errorf("httpsplit: refusing %s with fencing token %d, older than the accepted %d: %w",
			desired, token, s.fence, strategy.ErrFenced))
	}
	t, err := s.build(ctx, desired)
	if err != nil {
		return err
	}
	s.table.Store(t)
	s.m.weight.Set(float64(t.weight) / 100)
	s.fence = max(s.fence, token)
	return nil
}

// build resolves st's upstreams and compiles its route.
func (s *Splitter) build(ctx context.Context, st strategy.State) (*table, error) {
	if err := st.Validate(); err != nil {
		return nil, strategy.Permanent(err)
	}
	t := &table{state: st}
	var err error
	if st.Stable != "" {
		if t.stable, err = s.upstream(ctx, st.Stable); err != nil {
			return nil, err
		}
	}
	if st.Canary != "" {
		if t.canary, err = s.upstream(ctx, st.Canary); err != nil {
			return nil, err
		}
		t.weight = st.Weight
		t.salt = hashString(fnvOffset, string(st.Canary))
	}
	if !st.Route.IsZero() {
		m := &matcher{header: textproto.CanonicalMIMEHeaderKey(st.Route.Header)}
		switch {
		case st.Route.Exact != "":
			m.kind, m.exact = 'e', st.Route.Exact
		case st.Route.Prefix != "":
			m.kind, m.prefix = 'p', st.Route.Prefix
		default:
			// Full-string match, as Envoy's RE2 matcher does.
			re, err := regexp.Compile(`^(?:` + st.Route.Regex + `)$`)
			if err != nil {
				return nil, strategy.Permanent(fmt.Errorf("httpsplit: header route regex %q: %w", st.Route.Regex, err))
			}
			m.kind, m.re = 'r', re
		}
		t.route = m
	}
	return t, nil
}

// upstream returns rev's upstream, building it on first use or when its
// URL changed. s.mu is held, or s is not shared yet.
func (s *Splitter) upstream(ctx context.Context, rev strategy.Revision) (*upstream, error) {
	u, ok := s.fixed[rev]
	if !ok {
		if s.cfg.Resolve == nil {
			return nil, strategy.Permanent(fmt.Errorf("httpsplit: no upstream for revision %s", rev))
		}
		var err error
		u, err = s.cfg.Resolve(ctx, rev)
		if err != nil {
			return nil, fmt.Errorf("httpsplit: resolving the upstream of revision %s: %w", rev, err)
		}
		if err := checkUpstream(u); err != nil {
			return nil, strategy.Permanent(fmt.Errorf("httpsplit: upstream of revision %s: %w", rev, err))
		}
	}
	if up := s.upstreams[rev]; up != nil && up.url.String() == u.String() {
		return up, nil
	}
	m := s.revs[rev]
	if m == nil {
		m = s.m.forRevision(rev)
		s.revs[rev] = m
	}
	target := *u
	up := &upstream{rev: rev, url: &target, m: m}
	preserve, realIP := s.cfg.PreserveHost, s.cfg.RealIP
	up.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(&target)
			setForwarded(pr, realIP)
			if preserve {
				pr.Out.Host = pr.In.Host
			}
		},
		Transport:    s.transport,
		BufferPool:   bufs,
		ErrorHandler: s.proxyError(rev),
	}
	// The fast path serves plain-HTTP upstreams without a base path or
	// query, through the transport New made (a Transport given in Config
	// sees every request).
	if s.owned && target.Scheme == "http" && (target.Path == "" || target.Path == "/") && target.RawQuery == "" && target.User == nil {
		addr := target.Host
		if target.Port() == "" {
			addr = net.JoinHostPort(target.Hostname(), "80")
		}
		up.pool = newConnPool(addr, s.dialer)
		if s.closed.Load() {
			up.pool.close()
		}
	}
	if old := s.upstreams[rev]; old != nil && old.pool != nil {
		// Requests still on the old table finish; their connections
		// are closed as they are returned.
		old.pool.close()
	}
	s.upstreams[rev] = up
	return up, nil
}

// setForwarded sets the outbound request's X-Forwarded-For (the client's
// address), X-Forwarded-Host and X-Forwarded-Proto headers, as
// [httputil.ProxyRequest.SetXForwarded] does, with one allocation for the
// three values instead of one each. The reverse proxy has already removed
// the X-Forwarded-* and Forwarded headers the client sent, so none is
// appended to; the client's X-Real-IP is removed, or replaced by the
// client's address, as realIP says.
func setForwarded(pr *httputil.ProxyRequest, realIP RealIP) {
	h := pr.Out.Header
	v := make([]string, 3)
	delete(h, "X-Real-Ip")
	if ip, _, err := net.SplitHostPort(pr.In.RemoteAddr); err == nil {
		v[0] = ip
		h["X-Forwarded-For"] = v[0:1:1]
		if realIP == RealIPSet {
			h["X-Real-Ip"] = v[0:1:1]
		}
	} else {
		delete(h, "X-Forwarded-For")
	}
	v[1] = pr.In.Host
	h["X-Forwarded-Host"] = v[1:2:2]
	v[2] = "http"
	if pr.In.TLS != nil {
		v[2] = "https"
	}
	h["X-Forwarded-Proto"] = v[2:3:3]
}

// proxyError answers a request whose upstream could not be reached.
func (s *Splitter) proxyError(rev strategy.Revision) func(http.ResponseWriter, *http.Request, error) {
	return func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() != nil {
			w.WriteHeader(StatusClientClosedRequest)
			return
		}
		if s.cfg.Logger != nil {
			s.cfg.Logger.LogAttrs(r.Context(), slog.LevelWarn, "httpsplit: upstream failed",
				slog.String("revision", string(rev)), slog.String("error", err.Error()))
		}
		w.WriteHeader(http.StatusBadGateway)
	}
}

// ServeHTTP proxies r to the revision the current routing table picks, and
// records the request, its status and its latency for that revision.
//
// After [Splitter.Close] it answers 503 Service Unavailable.
func (s *Splitter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.closed.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	start := time.Now()
	t := s.table.Load()
	key := s.clientKey(r)
	if key == "" && s.cfg.Sticky.Cookie != "" && t.canary != nil && t.stable != nil {
		key = strconv.FormatUint(rand.Uint64(), 36)
		http.SetCookie(w, &http.Cookie{Name: s.cfg.Sticky.Cookie, Value: key, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	up := t.choose(r.Header, key)
	if s.cfg.RevisionHeader != "" {
		w.Header().Set(s.cfg.RevisionHeader, string(up.rev))
	}
	sw := statusWriters.Get().(*statusWriter)
	sw.ResponseWriter, sw.status = w, 0
	aborted := false
	if up.pool != nil && fastPathOK(r) {
		var err error
		if aborted, err = s.forward(sw, r, up); err != nil {
			s.proxyError(up.rev)(sw, r, err)
		}
	} else {
		up.proxy.ServeHTTP(sw, r)
	}
	up.m.observe(sw.code(), time.Since(start))
	// Neither path keeps a reference to its writer once it returns (a
	// panic, which aborts the request, just leaves sw to the GC).
	sw.ResponseWriter = nil
	statusWriters.Put(sw)
	if aborted {
		// The upstream failed in the middle of the body: the client must
		// not take what it got for the whole response.
		panic(http.ErrAbortHandler)
	}
}

// statusWriters are reused across requests: one fewer allocation each.
var statusWriters = sync.Pool{New: func() any { return new(statusWriter) }}

// Pick returns the revision that would serve r now. A request without a
// sticky client key is split at random, so two calls may differ.
func (s *Splitter) Pick(r *http.Request) strategy.Revision {
	return s.table.Load().choose(r.Header, s.clientKey(r)).rev
}

// clientKey is r's sticky key, or "" when there is none.
func (s *Splitter) clientKey(r *http.Request) string {
	if h := s.cfg.Sticky.Header; h != "" {
		if v := r.Header.Get(h); v != "" {
			return v
		}
	}
	if c := s.cfg.Sticky.Cookie; c != "" {
		return cookieValue(r.Header, c)
	}
	return ""
}

// cookieValue finds cookie name in h without parsing every cookie (which
// http.Request.Cookie does, allocating on each request).
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if ok && k == name {
				if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
					v = v[1 : len(v)-1]
				}
				return v
			}
		}
	}
	return ""
}

// choose is the routing decision: header route first, then the weight,
// by the client's bucket when it has a key and at random otherwise.
func (t *table) choose(h http.Header, key string) *upstream {
	return t.pick(t.route != nil && t.route.match(h), key)
}

// pick is choose once the header route has been matched (routed) or not.
func (t *table) pick(routed bool, key string) *upstream {
	if t.canary == nil {
		return t.stable
	}
	if routed {
		return t.canary
	}
	switch {
	case t.weight <= 0:
		if t.stable != nil {
			return t.stable
		}
		return t.canary
	case t.weight >= 100 || t.stable == nil:
		return t.canary
	}
	var b int
	if key != "" {
		b = bucket(t.salt, key)
	} else {
		b = rand.IntN(100)
	}
	if b < t.weight {
		return t.canary
	}
	return t.stable
}

func (m *matcher) match(h http.Header) bool {
	for _, v := range h[m.header] {
		if m.matchValue(v) {
			return true
		}
	}
	return false
}

// matchValue reports whether one header value matches.
func (m *matcher) matchValue(v string) bool {
	switch m.kind {
	case 'e':
		return v == m.exact
	case 'p':
		return len(v) >= len(m.prefix) && v[:len(m.prefix)] == m.prefix
	case 'r':
		return m.re.MatchString(v)
	}
	return false
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// Bucket is the sticky bucket, 0..99, of the client with key during a
// release of canary: the client is sent to canary while the weight is above
// its bucket. It is the 64-bit FNV-1a hash of the canary revision continued
// over the key, folded and reduced modulo 100. Tools can use it to predict
// which clients a weight sends to the canary.
func Bucket(canary strategy.Revision, key string) int {
	return bucket(hashString(fnvOffset, string(canary)), key)
}

func bucket(salt uint64, key string) int {
	h := hashString(salt^0xff, key) // 0xff separates the revision from the key
	h ^= h >> 33                    // fold the high bits into the low ones
	return int(h % 100)
}

// Observe reports the State being served and the health of each of its
// revisions: 1 when a GET of HealthPath on its upstream answered 2xx within
// HealthTimeout, 0 otherwise. An unhealthy upstream is not an error; only a
// cancelled ctx is.
func (s *Splitter) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	t := s.table.Load()
	obs := strategy.Observation{State: t.state}
	var canaryUp bool
	var wg sync.WaitGroup
	if t.canary != nil && t.canary != t.stable {
		wg.Go(func() { canaryUp = s.check(ctx, t.canary) })
	}
	if t.stable != nil && s.check(ctx, t.stable) {
		obs.Ready.Stable = 1
	}
	wg.Wait()
	if canaryUp {
		obs.Ready.Canary = 1
	}
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	return obs, nil
}

// check GETs up's health path and records the answer in the up gauge.
func (s *Splitter) check(ctx context.Context, up *upstream) bool {
	ok := s.probe(ctx, up)
	v := 0.0
	if ok {
		v = 1
	}
	up.m.up.Set(v)
	return ok
}

func (s *Splitter) probe(ctx context.Context, up *upstream) bool {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.HealthTimeout)
	defer cancel()
	u := up.url.JoinPath(s.cfg.HealthPath)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return false
	}
	resp, err := s.health.Do(req)
	if err != nil {
		return false
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

// CloseIdleConnections closes the idle connections to the upstreams of a
// splitter whose transport New created (it does nothing for a Transport
// given in Config).
func (s *Splitter) CloseIdleConnections() {
	if !s.owned {
		return
	}
	s.mu.Lock()
	for _, up := range s.upstreams {
		if up.pool != nil {
			up.pool.closeIdle()
		}
	}
	s.mu.Unlock()
	s.srvMu.Lock()
	for sv := range s.servers {
		// The event loops close their idle upstream connections.
		sv.wakeLoops()
	}
	s.srvMu.Unlock()
	if c, ok := s.transport.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// Close retires the splitter gracefully: requests already being proxied
// finish (their upstream connections are closed as they end), later
// requests are answered 503 Service Unavailable without reaching an
// upstream, the idle connections New's transport keeps are closed, and
// the metrics New registered with [Config].Registerer are unregistered.
// Stop the server in front first (http.Server.Shutdown) to let clients
// finish. Close is idempotent and returns nil; it implements [io.Closer].
func (s *Splitter) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.srvMu.Lock()
	for sv := range s.servers {
		sv.shutdown()
	}
	s.srvMu.Unlock()
	s.mu.Lock()
	for _, up := range s.upstreams {
		if up.pool != nil {
			up.pool.close()
		}
	}
	s.mu.Unlock()
	s.CloseIdleConnections()
	if s.cfg.Registerer != nil {
		s.cfg.Registerer.Unregister(s)
	}
	return nil
}

// statusWriter remembers the status of the response it writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (for
// Flush and Hijack, which the reverse proxy uses).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}

// bufferPool lends the reverse proxies their copy buffers. It pools
// pointers to fixed-size arrays, so that neither Get nor Put allocates (a
// pool of slices would allocate on every Put to box the slice).
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

type copyBuffer = [copyBufferSize]byte

func (b *bufferPool) Get() []byte {
	if v, ok := b.p.Get().(*copyBuffer); ok {
		return v[:]
	}
	return new(copyBuffer)[:]
}

func (b *bufferPool) Put(buf []byte) {
	if len(buf) == copyBufferSize {
		b.p.Put((*copyBuffer)(buf))
	}
}

package httpsplit

import (
	"bytes"
	"errors"
)

// The HTTP/1.1 parsers of Serve's fast path.
//
// parseRequestHead accepts a strict subset of HTTP/1.1 requests: those
// the fast path forwards itself. Anything outside it (another method or
// version, a body, an Upgrade, an Expect, obs-fold, a bare LF, a target
// or header it does not recognise as plainly valid) is not refused by
// it but handed, unread, to net/http's server, which then answers it as
// it answers any request, with a 400 where the request is malformed. So
// the fast path never accepts a request net/http would refuse, and a
// request that could be read two ways (conflicting Content-Length and
// Transfer-Encoding, obs-fold, a bare LF) is never read by it at all.
//
// parseResponseHead reads an upstream's answer. It is stricter than
// http.ReadResponse (an answer it cannot read is a 502, as nginx answers
// an upstream it cannot parse), and decides the body's framing as
// ReadResponse does.

// field is one header field: slices of the buffer the head was read into.
type field struct {
	name, value []byte
}

// reqHead is a parsed request head. Its slices point into the reader's
// buffer and are valid until the next read from it.
type reqHead struct {
	method  []byte
	target  []byte
	host    []byte
	fields  []field // every field but Host, in order
	close   bool    // the client sent Connection: close
	headLen int     // bytes of the head, up to and including the blank line
}

// parseRequestHead parses b, which holds a whole head ending in CRLF
// CRLF, into h. ok is false for any request the fast path leaves to
// net/http.
func parseRequestHead(b []byte, h *reqHead) (ok bool) {
	h.fields = h.fields[:0]
	h.host = nil
	h.close = false
	line, rest, ok := cutLine(b)
	if !ok {
		return false
	}
	// Request line: GET or HEAD, an origin-form target, HTTP/1.1.
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	h.method = line[:sp]
	if string(h.method) != "GET" && string(h.method) != "HEAD" {
		return false
	}
	line = line[sp+1:]
	sp = bytes.IndexByte(line, ' ')
	if sp < 0 || string(line[sp+1:]) != "HTTP/1.1" {
		return false
	}
	h.target = line[:sp]
	if !validTarget(h.target) {
		return false
	}
	hosts := 0
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return false
		}
		switch {
		case equalFold(name, "Host"):
			hosts++
			if !validHost(value) {
				return false
			}
			h.host = value
			continue
		case equalFold(name, "Content-Length"):
			// A bodiless request may say so; anything else is a body.
			if string(value) != "0" {
				return false
			}
		case equalFold(name, "Transfer-Encoding"), equalFold(name, "Upgrade"), equalFold(name, "Expect"):
			return false
		case equalFold(name, "Connection"):
			// Only keep-alive and close; a Connection header naming
			// other headers (or an upgrade) is left to net/http.
			for t := range tokens(value) {
				switch {
				case equalFold(t, "close"):
					h.close = true
				case equalFold(t, "keep-alive"):
				default:
					return false
				}
			}
		}
		h.fields = append(h.fields, field{name, value})
	}
	if hosts != 1 {
		return false
	}
	h.headLen = len(b) - len(rest)
	return true
}

// cutLine splits the line up to the first CRLF off b. A bare LF or CR, or
// no line end at all, is not ok.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	line = b[:i-1]
	if bytes.IndexByte(line, '\r') >= 0 {
		return nil, nil, false
	}
	return line, b[i+1:], true
}

// splitField splits "name: value" with optional whitespace around the
// value. The name must be a token; the value may hold visible ASCII,
// spaces, tabs and obs-text (as net/http accepts), nothing else.
func splitField(line []byte) (name, value []byte, ok bool) {
	colon := bytes.IndexByte(line, ':')
	if colon <= 0 {
		return nil, nil, false
	}
	name = line[:colon]
	for _, c := range name {
		if !isTokenByte(c) {
			return nil, nil, false
		}
	}
	value = trimOWS(line[colon+1:])
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}

// validTarget accepts an origin-form target ("/path?query") made of
// unreserved and reserved characters and well-formed percent escapes,
// which net/http's URL parser accepts as they are.
func validTarget(t []byte) bool {
	if len(t) == 0 || t[0] != '/' {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '%':
			if i+2 >= len(t) || !isHex(t[i+1]) || !isHex(t[i+2]) {
				return false
			}
			i += 2
		default:
			switch c {
			case '-', '.', '_', '~', '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '/', '?':
			default:
				return false
			}
		}
	}
	return true
}

// validHost accepts a non-empty host[:port] of letters, digits and
// "-._:[]", a subset of what net/http accepts.
func validHost(h []byte) bool {
	if len(h) == 0 {
		return false
	}
	for _, c := range h {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '-' || c == '.' || c == '_' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// equalFold reports whether b equals the ASCII string s, ignoring case.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x|0x20 != y|0x20 {
			return false
		}
		if x|0x20 < 'a' || x|0x20 > 'z' {
			if x != y {
				return false
			}
		}
	}
	return true
}

// tokens yields the trimmed, non-empty comma-separated elements of v.
func tokens(v []byte) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		for len(v) > 0 {
			var t []byte
			if i := bytes.IndexByte(v, ','); i >= 0 {
				t, v = v[:i], v[i+1:]
			} else {
				t, v = v, nil
			}
			if t = trimOWS(t); len(t) > 0 && !yield(t) {
				return
			}
		}
	}
}

// Body framings of an upstream response.
const (
	bodyNone    = iota // HEAD, 1xx, 204, 304
	bodyLength         // Content-Length
	bodyChunked        // Transfer-Encoding: chunked
	bodyClose          // read until the upstream closes
)

// respHead is a parsed upstream response head.
type respHead struct {
	status     int
	statusLine []byte // "200 OK": the code and the reason
	fields     []field
	framing    int
	length     int64 // for bodyLength
	keepAlive  bool  // the connection may carry another request
	connTokens [][]byte
	headLen    int
}

var errBadResponse = errors.New("httpsplit: malformed upstream response")

// parseResponseHead parses b, a whole response head, for a request with
// method head (HEAD) or not.
func parseResponseHead(b []byte, head bool, h *respHead) error {
	h.fields = h.fields[:0]
	h.connTokens = h.connTokens[:0]
	h.length = -1
	line, rest, ok := cutLine(b)
	if !ok || len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' || (line[7] != '0' && line[7] != '1') {
		return errBadResponse
	}
	http11 := line[7] == '1'
	code := line[9:12]
	if !isDigit(code[0]) || !isDigit(code[1]) || !isDigit(code[2]) || code[0] == '0' || len(line) > 12 && line[12] != ' ' {
		return errBadResponse
	}
	for _, c := range line[12:] {
		if c < ' ' && c != '\t' || c == 0x7f {
			return errBadResponse
		}
	}
	h.status = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	h.statusLine = line[9:]
	chunked, closeConn, keepAlive := false, false, false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return errBadResponse
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitField(line)
		if !ok {
			return errBadResponse
		}
		switch {
		case equalFold(name, "Content-Length"):
			n, ok := parseLength(value)
			if !ok || h.length >= 0 && h.length != n {
				return errBadResponse
			}
			h.length = n
		case equalFold(name, "Transfer-Encoding"):
			// Only chunked, as net/http supports.
			if chunked || !equalFold(value, "chunked") {
				return errBadResponse
			}
			chunked = true
		case equalFold(name, "Connection"):
			for t := range tokens(value) {
				switch {
				case equalFold(t, "close"):
					closeConn = true
				case equalFold(t, "keep-alive"):
					keepAlive = true
				default:
					h.connTokens = append(h.connTokens, t)
				}
			}
		}
		h.fields = append(h.fields, field{name, value})
	}
	if chunked && !http11 {
		// net/http ignores Transfer-Encoding in HTTP/1.0 and reads
		// until close; an answer that can be read two ways is refused.
		return errBadResponse
	}
	h.headLen = len(b) - len(rest)
	h.keepAlive = !closeConn && (http11 || keepAlive)
	switch {
	case head || h.status < 200 || h.status == 204 || h.status == 304:
		h.framing = bodyNone
	case chunked:
		// Chunked wins over a Content-Length, as in net/http.
		h.framing, h.length = bodyChunked, -1
	case h.length >= 0:
		h.framing = bodyLength
	default:
		h.framing = bodyClose
		h.keepAlive = false
	}
	return nil
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// parseLength parses a Content-Length: decimal digits only, below 2^62.
func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// parseChunkSize parses a chunk-size line (without its CRLF): hex digits,
// then optional chunk extensions, which are dropped.
func parseChunkSize(line []byte) (int64, bool) {
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i]
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return 0, false
	}
	var n int64
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		n = n<<4 | int64(d)
	}
	return n, true
}

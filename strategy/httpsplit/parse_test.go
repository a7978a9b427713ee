package httpsplit

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// requestSeeds are heads the fuzzers start from: ordinary ones and the
// request smuggling classics.
var requestSeeds = []string{
	"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET /p/a%20b?q=1&r=%2F HTTP/1.1\r\nHost: shop.example:8080\r\nAccept: */*\r\nX-Many: 1\r\nX-Many: 2\r\n\r\n",
	"HEAD /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: one\r\n two\r\n\r\n",
	"GET / HTTP/1.1\nHost: a\n\n",
	"GET / HTTP/1.1\r\nHost: a\nX-Bare: lf\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok",
	"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
	"GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX: \xff\xfe\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: a\r\nX:\tv \t\r\n\r\n",
	"GET / HTTP/1.1\r\nhOsT: a\r\ncontent-LENGTH: 0\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
}

// FuzzParseRequestHead checks the fast path's request parser against
// net/http's: every head it accepts, net/http reads as the same request
// (method, target, Host, every field and value), with no body, and would
// serve (a valid Host); every head it refuses is left to net/http.
func FuzzParseRequestHead(f *testing.F) {
	for _, s := range requestSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end := bytes.Index(b, []byte("\r\n\r\n"))
		if end < 0 {
			return
		}
		head := b[:end+4]
		var h reqHead
		if !parseRequestHead(head, &h) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(head)))
		if err != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", head, err)
		}
		if req.Method != string(h.method) || req.RequestURI != string(h.target) || req.Host != string(h.host) {
			t.Fatalf("%q: method/target/host %q %q %q, net/http %q %q %q", head, h.method, h.target, h.host, req.Method, req.RequestURI, req.Host)
		}
		if req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.ContentLength != 0 || len(req.TransferEncoding) != 0 {
			t.Fatalf("%q: net/http sees %s, length %d, encoding %v", head, req.Proto, req.ContentLength, req.TransferEncoding)
		}
		if n, _ := io.Copy(io.Discard, req.Body); n != 0 {
			t.Fatalf("%q: net/http reads a body of %d bytes", head, n)
		}
		got := http.Header{}
		for _, f := range h.fields {
			got.Add(string(f.name), string(f.value))
		}
		if req.Close != h.close {
			t.Fatalf("%q: close %v, net/http %v", head, h.close, req.Close)
		}
		want := req.Header.Clone()
		if !sameHeader(got, want) {
			t.Fatalf("%q: fields %q, net/http %q", head, got, want)
		}
		if _, err := checkTarget(req.RequestURI); err != nil {
			t.Fatalf("%q: target %v", head, err)
		}
	})
}

func checkTarget(target string) (string, error) {
	_, err := http.NewRequest(http.MethodGet, "http://h"+target, nil)
	return target, err
}

func sameHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb := b[k]
		if len(va) != len(vb) {
			return false
		}
		for i := range va {
			if va[i] != vb[i] {
				return false
			}
		}
	}
	return true
}

var responseSeeds = []string{
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n2\r\nok\r\n0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
	"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.0 200 OK\r\n\r\nuntil close",
	"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
	"HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n",
	"HTTP/1.1 304 Not Modified\r\n\r\n",
	"HTTP/1.1 200\r\nConnection: close, X-Gone\r\nX-Gone: 1\r\nContent-Length: 0\r\n\r\n",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
	"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
	"HTTP/1.1 200 OK\r\nX: folded\r\n more\r\nContent-Length: 0\r\n\r\n",
}

// FuzzParseResponseHead checks the upstream response parser against
// http.ReadResponse: a head it accepts has the same status, fields and
// body framing (length, chunked or until close, and keep-alive).
func FuzzParseResponseHead(f *testing.F) {
	for _, s := range responseSeeds {
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, head bool) {
		end := bytes.Index(b, []byte("\r\n\r\n"))
		if end < 0 {
			return
		}
		var h respHead
		if parseResponseHead(b[:end+4], head, &h) != nil {
			return
		}
		method := http.MethodGet
		if head {
			method = http.MethodHead
		}
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(b)), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("accepted %q, which net/http refuses: %v", b, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != h.status {
			t.Fatalf("%q: status %d, net/http %d", b, h.status, resp.StatusCode)
		}
		chunked := len(resp.TransferEncoding) > 0 && resp.TransferEncoding[0] == "chunked"
		switch h.framing {
		case bodyChunked:
			if !chunked {
				t.Fatalf("%q: chunked, net/http %v %d", b, resp.TransferEncoding, resp.ContentLength)
			}
		case bodyLength:
			if chunked || resp.ContentLength != h.length {
				t.Fatalf("%q: length %d, net/http %v %d", b, h.length, resp.TransferEncoding, resp.ContentLength)
			}
		case bodyClose:
			if chunked || resp.ContentLength != -1 || !resp.Close {
				t.Fatalf("%q: until close, net/http %v %d close %v", b, resp.TransferEncoding, resp.ContentLength, resp.Close)
			}
		case bodyNone:
			if n, _ := io.Copy(io.Discard, resp.Body); n != 0 {
				t.Fatalf("%q: no body, net/http reads %d bytes", b, n)
			}
		}
		if h.keepAlive == resp.Close && h.framing != bodyClose {
			t.Fatalf("%q: keep-alive %v, net/http close %v", b, h.keepAlive, resp.Close)
		}
		for _, f := range h.fields {
			k := http.CanonicalHeaderKey(string(f.name))
			if k == "Content-Length" || k == "Transfer-Encoding" || k == "Connection" || k == "Trailer" {
				continue // net/http consumes these
			}
			if !strings.Contains(strings.Join(resp.Header[k], "\x00")+"\x00", string(f.value)+"\x00") {
				t.Fatalf("%q: field %s: %q not among net/http's %q", b, k, f.value, resp.Header[k])
			}
		}
	})
}

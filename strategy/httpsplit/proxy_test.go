package httpsplit_test

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// The client's own forwarding headers are replaced by the splitter's.
func TestForwardedHeadersReplaceTheClients(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "xff=%q host=%q proto=%q fwd=%q", r.Header.Values("X-Forwarded-For"), r.Header.Values("X-Forwarded-Host"),
			r.Header.Values("X-Forwarded-Proto"), r.Header.Values("Forwarded"))
	}))
	defer echo.Close()
	_, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": echo.URL},
	})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL, nil)
	req.Host = "shop.example"
	req.Header.Add("X-Forwarded-For", "10.9.9.9")
	req.Header.Add("X-Forwarded-For", "10.8.8.8")
	req.Header.Set("X-Forwarded-Host", "evil.example")
	req.Header.Set("X-Forwarded-Proto", "https")
	req.Header.Set("Forwarded", "for=10.9.9.9")
	resp, err := front.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := `xff=["127.0.0.1"] host=["shop.example"] proto=["http"] fwd=[]`
	if string(body) != want {
		t.Errorf("upstream saw %s, want %s", body, want)
	}
}

// The splitter neither asks upstreams for compression on a client's behalf
// nor decompresses what a client asked for.
func TestAcceptEncodingPassesThrough(t *testing.T) {
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = io.WriteString(zw, "compressed body")
	_ = zw.Close()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ae := r.Header.Get("Accept-Encoding")
		w.Header().Set("X-Saw-Accept-Encoding", ae)
		if ae == "gzip" {
			w.Header().Set("Content-Encoding", "gzip")
			_, _ = w.Write(zipped.Bytes())
			return
		}
		_, _ = io.WriteString(w, "plain body")
	}))
	defer up.Close()
	_, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": up.URL},
	})
	// A transport that does not add Accept-Encoding itself.
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	defer client.CloseIdleConnections()
	for _, ae := range []string{"", "gzip"} {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, front.URL, nil)
		if ae != "" {
			req.Header.Set("Accept-Encoding", ae)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if got := resp.Header.Get("X-Saw-Accept-Encoding"); got != ae {
			t.Errorf("client sent Accept-Encoding %q, upstream saw %q", ae, got)
		}
		want := []byte("plain body")
		if ae == "gzip" {
			want = zipped.Bytes()
			if resp.Header.Get("Content-Encoding") != "gzip" {
				t.Errorf("Content-Encoding %q, want gzip", resp.Header.Get("Content-Encoding"))
			}
		}
		if !bytes.Equal(body, want) {
			t.Errorf("Accept-Encoding %q: body %q, want %q", ae, body, want)
		}
	}
}

// Concurrent requests with different answers are each counted with their
// own status, although the writers that record it are reused.
func TestStatusPerRequestUnderConcurrency(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer up.Close()
	s, front := newSplitter(t, strategy.State{Stable: "v1"}, httpsplit.Config{
		Upstreams: map[strategy.Revision]string{"v1": up.URL},
	})
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		path := "/ok"
		if i%4 == 0 {
			path = "/fail"
		}
		wg.Go(func() {
			resp, err := front.Client().Get(front.URL + path)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		})
	}
	wg.Wait()
	st := s.Stats()["v1"]
	if st.Requests != n || st.Errors != n/4 {
		t.Errorf("requests %d errors %d, want %d and %d", st.Requests, st.Errors, n, n/4)
	}
}

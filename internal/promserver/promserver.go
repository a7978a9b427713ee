package promserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// DefaultBinary is where Debian's prometheus package installs the server.
const DefaultBinary = "/usr/bin/prometheus"

// Job is the job label of every target the server scrapes.
const Job = "glidepath"

// Find returns the prometheus binary: DefaultBinary, or the first one on
// PATH. The error says how to install it.
func Find() (string, error) {
	if _, err := os.Stat(DefaultBinary); err == nil {
		return DefaultBinary, nil
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p, nil
	}
	return "", errors.New("the prometheus server is not installed (Debian: apt-get install prometheus)")
}

// Server is a running Prometheus. Stop it when done.
type Server struct {
	// URL is the server's base URL, http://127.0.0.1:PORT.
	URL string

	cmd  *exec.Cmd
	dir  string
	mu   sync.Mutex
	logs bytes.Buffer
	done chan error
	stop sync.Once
}

// Start runs bin on a free loopback port, scraping targets (host:port)
// every second, and returns once the server is ready, within 30 seconds.
// The server outlives ctx, which only bounds the wait: call Stop.
func Start(ctx context.Context, bin string, targets ...string) (*Server, error) {
	dir, err := os.MkdirTemp("", "glidepath-prometheus-")
	if err != nil {
		return nil, err
	}
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: %s
    static_configs:
      - targets: [%s]
`, Job, strings.Join(quoted, ", "))
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{URL: "http://" + addr, dir: dir, done: make(chan error, 1)}
	s.cmd = exec.Command(bin,
		"--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
		"--log.level=warn")
	s.cmd.Stdout, s.cmd.Stderr = (*logWriter)(s), (*logWriter)(s)
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/-/ready", nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		t := time.NewTimer(100 * time.Millisecond)
		select {
		case err := <-s.done:
			t.Stop()
			s.done <- err
			_ = s.Stop()
			return nil, fmt.Errorf("prometheus exited: %v\n%s", err, s.Logs())
		case <-ctx.Done():
			t.Stop()
			_ = s.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		if time.Now().After(deadline) {
			_ = s.Stop()
			return nil, fmt.Errorf("prometheus was not ready within 30s\n%s", s.Logs())
		}
	}
}

// Logs returns what the server has printed so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logs.String()
}

// Stop kills the server, waits for it and removes its directory. It may be
// called more than once.
func (s *Server) Stop() error {
	var err error
	s.stop.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.done
		err = os.RemoveAll(s.dir)
	})
	return err
}

type logWriter Server

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.logs.Write(p)
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// Require returns the prometheus binary for a test, or skips the test when
// it is not installed; under CI=true, where .ci/run installs it, a missing
// binary fails the test instead.
func Require(t testing.TB) string {
	t.Helper()
	bin, err := Find()
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%v: it is required in CI", err)
	}
	t.Skip(err)
	return ""
}

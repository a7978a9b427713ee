// Package etcdtest starts a real etcd server (Debian's etcd-server package,
// /usr/bin/etcd) on loopback ports in a temporary data directory, for the
// etcd store's tests, benchmarks and example.
package etcdtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// EnvBinary names an environment variable that overrides the etcd binary.
const EnvBinary = "GLIDEPATH_ETCD"

// Binary returns the etcd binary to run, or an error naming the Debian
// package that provides it.
func Binary() (string, error) {
	if b := os.Getenv(EnvBinary); b != "" {
		return b, nil
	}
	if b, err := exec.LookPath("etcd"); err == nil {
		return b, nil
	}
	if _, err := os.Stat("/usr/bin/etcd"); err == nil {
		return "/usr/bin/etcd", nil
	}
	return "", errors.New("etcd not found: install Debian's etcd-server package (apt-get install etcd-server) or set " + EnvBinary)
}

// Server is a running etcd.
type Server struct {
	// Endpoint is the client URL (http://127.0.0.1:port).
	Endpoint string

	bin, dir, name  string
	clientPort      int
	peerPort        int
	mu              sync.Mutex
	cmd             *exec.Cmd
	log             *bytes.Buffer
	done            chan struct{}
	stopped, paused bool
}

// Start starts an etcd for tb and stops it when tb ends. Without an etcd
// binary it fails tb under CI=true and skips it otherwise.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch(tb.TempDir())
	if errors.Is(err, errNoBinary) {
		if os.Getenv("CI") == "true" {
			tb.Fatal(err)
		}
		tb.Skip(err)
	}
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

var errNoBinary = errors.New("no etcd binary")

// Launch starts an etcd with its data in dir. Stop it with Stop.
func Launch(dir string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errNoBinary, err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s := &Server{bin: bin, dir: dir, name: "glidepath-test", clientPort: ports[0], peerPort: ports[1]}
	s.Endpoint = "http://127.0.0.1:" + strconv.Itoa(s.clientPort)
	if err := s.start(); err != nil {
		return nil, err
	}
	return s, nil
}

func freePorts(n int) ([]int, error) {
	var out []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

func (s *Server) start() error {
	peer := "http://127.0.0.1:" + strconv.Itoa(s.peerPort)
	cmd := exec.Command(s.bin,
		"--name", s.name,
		"--data-dir", filepath.Join(s.dir, "data"),
		"--listen-client-urls", s.Endpoint,
		"--advertise-client-urls", s.Endpoint,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", s.name+"="+peer,
		"--initial-cluster-state", "new",
		"--heartbeat-interval", "50",
		"--election-timeout", "500",
		"--logger", "zap",
		"--log-level", "error",
	)
	log := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Env = append(os.Environ(), "ETCD_UNSUPPORTED_ARCH="+goarch())
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.log, s.done, s.stopped, s.paused = cmd, log, done, false, false
	s.mu.Unlock()
	return s.waitHealthy(done)
}

func (s *Server) waitHealthy(done chan struct{}) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			return fmt.Errorf("etcd exited while starting: %s", s.Log())
		default:
		}
		if r, err := client.Get(s.Endpoint + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond) // polling a real process's start-up
	}
	s.Stop()
	return fmt.Errorf("etcd did not become healthy in 30s: %s", s.Log())
}

// Log returns what etcd wrote.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.log == nil {
		return ""
	}
	return s.log.String()
}

// Stop kills etcd (SIGKILL: a crash) and waits for it to exit. It is safe
// to call more than once.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done, stopped := s.cmd, s.done, s.stopped
	s.stopped = true
	s.mu.Unlock()
	if cmd == nil || stopped {
		return
	}
	_ = resume(cmd.Process)
	_ = cmd.Process.Kill()
	<-done
}

// Restart kills etcd and starts it again on the same ports and data: what
// it had acknowledged survives.
func (s *Server) Restart() error {
	s.Stop()
	return s.start()
}

// Pause stops etcd with SIGSTOP: clients see a server that does not
// answer. Unix only.
func (s *Server) Pause() error { return s.signal(pause) }

// Continue resumes a paused etcd.
func (s *Server) Continue() error { return s.signal(resume) }

func (s *Server) signal(fn func(*os.Process) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.stopped {
		return errors.New("etcd is not running")
	}
	return fn(s.cmd.Process)
}

// Client returns a client of s, closed when tb ends.
func (s *Server) Client(tb testing.TB) *clientv3.Client {
	tb.Helper()
	cli, err := s.NewClient()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cli.Close() })
	return cli
}

// NewClient returns a client of s with a quiet logger.
func (s *Server) NewClient() (*clientv3.Client, error) {
	return NewClient(s.Endpoint)
}

// NewClient returns a client of the etcd at endpoint with a quiet logger.
func NewClient(endpoint string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{
		Endpoints:   []string{endpoint},
		DialTimeout: 5 * time.Second,
		Logger:      zap.NewNop(),
	})
}

package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/httpsplit"
)

// childArg, as the first argument, makes the program serve one role (the
// backends or the splitter) instead of benchmarking: the benchmark runs
// its own binary again with it, so that every server is a process of its
// own, as nginx is. It is not a documented flag.
const childArg = "-proxybench-child"

// workHeader carries the service time a backend waits before answering,
// so that the same backends and proxies serve both the plain and the
// working closed-loop runs. Both proxies forward it unchanged.
const workHeader = "X-Proxybench-Work"

// maybeChild serves the role args asks for and exits, or returns when
// args is an ordinary command line.
func maybeChild(args []string) {
	if len(args) < 3 || args[1] != childArg {
		return
	}
	if err := serveChild(args[2], args[3:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "proxybench child:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// serveChild starts role's servers on loopback, writes their URLs on one
// line to out and serves until in is closed (which also happens when the
// parent dies).
func serveChild(role string, args []string, in io.Reader, out io.Writer) error {
	fs := flag.NewFlagSet(role, flag.ContinueOnError)
	n := fs.Int("n", 2, "number of backends")
	upstreams := fs.String("upstreams", "", "comma-separated URLs of the two backends")
	weight := fs.Int("weight", 50, "canary weight")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var handlers []http.Handler
	cleanup := func() {}
	switch role {
	case "backends":
		for range *n {
			handlers = append(handlers, backend())
		}
	case "splitter":
		ups := strings.Split(*upstreams, ",")
		if len(ups) != 2 {
			return fmt.Errorf("splitter: want two upstreams, have %q", *upstreams)
		}
		split, err := httpsplit.New(context.Background(), httpsplit.Config{
			Upstreams: map[strategy.Revision]string{"v1": ups[0], "v2": ups[1]},
			Initial:   strategy.State{Stable: "v1", Canary: "v2", Weight: *weight},
		})
		if err != nil {
			return err
		}
		handlers = append(handlers, split)
		cleanup = split.CloseIdleConnections
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if *memprofile != "" {
		f, err := os.Create(*memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		// Written last (deferred first): every allocation of the run.
		defer func() { _ = pprof.Lookup("allocs").WriteTo(f, 0) }()
	}
	var urls []string
	for _, h := range handlers {
		var s *server
		var err error
		if split, ok := h.(*httpsplit.Splitter); ok {
			s, err = serveSplitter(split)
		} else {
			s, err = serve(h)
		}
		if err != nil {
			return err
		}
		defer s.close()
		urls = append(urls, s.url)
	}
	defer cleanup()
	if _, err := fmt.Fprintln(out, strings.Join(urls, " ")); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, in)
	return nil
}

// backend answers every request with a small body, after the service time
// the request's workHeader asks for, if any.
func backend() http.Handler {
	body := []byte("hello from the backend\n")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if v := r.Header.Get(workHeader); v != "" {
			if d, err := time.ParseDuration(v); err == nil && d > 0 && d <= time.Second {
				time.Sleep(d)
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write(body)
	})
}

type server struct {
	url  string
	stop func() error
	done chan struct{}
}

func serve(h http.Handler) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	s := &server{url: "http://" + ln.Addr().String(), stop: srv.Close, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = srv.Serve(ln)
	}()
	return s, nil
}

// serveSplitter serves split with its own server loop (Splitter.Serve),
// as a deployment that runs the splitter as its own proxy would.
func serveSplitter(split *httpsplit.Splitter) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + ln.Addr().String(), stop: func() error { return split.Close() }, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		_ = split.Serve(ln)
	}()
	return s, nil
}

func (s *server) close() {
	_ = s.stop()
	<-s.done
}

// proc is a server process the benchmark started: a child of its own
// binary, or nginx.
type proc struct {
	name   string
	urls   []string
	cmd    *exec.Cmd
	stdin  io.Closer // closing it asks a child to stop; nil for nginx
	done   chan error
	output *lineBuffer
	dir    string // removed after the process ends
}

// startChild runs the binary again as role with GOMAXPROCS=procs (when
// positive) and waits for the URLs it prints.
func startChild(name string, procs int, role string, args ...string) (*proc, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, append([]string{childArg, role}, args...)...)
	cmd.Env = os.Environ()
	if procs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	p := &proc{name: name, cmd: cmd, done: make(chan error, 1), output: newLineBuffer()}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	p.stdin = stdin
	cmd.Stdout = p.output
	cmd.Stderr = &p.output.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	go func() { p.done <- cmd.Wait() }()
	select {
	case line := <-p.output.first:
		p.urls = strings.Fields(line)
		return p, nil
	case err := <-p.done:
		p.done <- err
		p.stop()
		return nil, fmt.Errorf("%s exited before serving: %v\n%s", name, err, p.output.stderr.String())
	case <-time.After(10 * time.Second):
		p.stop()
		return nil, fmt.Errorf("%s did not print its address within 10s\n%s", name, p.output.stderr.String())
	}
}

// stop asks the process to end (a child by closing its stdin, nginx with
// SIGTERM), kills it if it has not ended within 5s, and waits for it.
func (p *proc) stop() {
	if p.stdin != nil {
		_ = p.stdin.Close()
	} else {
		_ = p.cmd.Process.Signal(terminate)
	}
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	if p.dir != "" {
		_ = os.RemoveAll(p.dir)
	}
}

// lineBuffer keeps what a process writes and hands over its first line.
type lineBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	sent   bool
	first  chan string
	stderr syncBuffer
}

func newLineBuffer() *lineBuffer { return &lineBuffer{first: make(chan string, 1)} }

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if !b.sent {
		if line, _, ok := strings.Cut(b.buf.String(), "\n"); ok {
			b.sent = true
			b.first <- line
		}
	}
	return len(p), nil
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startNginx runs nginx in the foreground with a weighted upstream of the
// two backends and keep-alive connections to them (as the splitter keeps),
// replacing the client's forwarding headers as the splitter does.
// With one worker it runs as a single process (master_process off); with
// more, a master and that many workers.
func startNginx(ctx context.Context, bin, b1, b2 string, weight, workers int) (*proc, error) {
	dir, err := os.MkdirTemp("", "glidepath-nginx-")
	if err != nil {
		return nil, err
	}
	addr, err := freePort()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	host := func(u string) string { return strings.TrimPrefix(u, "http://") }
	// nginx's weight must be positive: a 0 or 100 split uses one server.
	servers := fmt.Sprintf("server %s weight=%d;\n    server %s weight=%d;", host(b1), 100-weight, host(b2), weight)
	switch weight {
	case 0:
		servers = fmt.Sprintf("server %s;", host(b1))
	case 100:
		servers = fmt.Sprintf("server %s;", host(b2))
	}
	master := "off"
	if workers > 1 {
		master = "on"
	}
	conf := fmt.Sprintf(`daemon off;
master_process %[4]s;
worker_processes %[5]d;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %[1]s/client_body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  keepalive_requests 100000;
  upstream backends {
    %[2]s
    keepalive 256;
    # nginx closes an upstream connection after 1000 requests by default;
    # the splitter keeps its connections as long as the upstream does.
    keepalive_requests 100000;
  }
  server {
    listen %[3]s;
    location / {
      proxy_pass http://backends;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The forwarding headers the splitter sets, so both do the same work.
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header X-Forwarded-Host $http_host;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Real-IP "";
      proxy_set_header Forwarded "";
    }
  }
}
`, dir, servers, addr, master, max(workers, 1))
	cfgPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(conf), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	name := "nginx"
	if out, err := exec.CommandContext(ctx, bin, "-v").CombinedOutput(); err == nil {
		name = "nginx " + strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version: ")
	}
	// -e sets the error log before the configuration is read (the default
	// path may not be writable); -p keeps relative paths in dir.
	cmd := exec.Command(bin, "-p", dir, "-e", filepath.Join(dir, "startup.log"), "-c", cfgPath)
	p := &proc{name: name, urls: []string{"http://" + addr}, cmd: cmd, dir: dir, done: make(chan error, 1), output: newLineBuffer()}
	cmd.Stdout, cmd.Stderr = p.output, &p.output.stderr
	if err := cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() { p.done <- cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			return p, nil
		}
		select {
		case err := <-p.done:
			p.done <- err
			logs, _ := os.ReadFile(filepath.Join(dir, "startup.log"))
			p.stop()
			return nil, fmt.Errorf("nginx exited: %v\n%s%s", err, p.output.stderr.String(), logs)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("nginx did not listen within 10s")
		}
	}
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// cpuTime is the CPU time (user and system) that process pid, and with
// tree its children (nginx's workers), have used so far, read from /proc;
// ok is false where there is no /proc.
func cpuTime(pid int, tree bool) (d time.Duration, ok bool) {
	if runtime.GOOS != "linux" {
		return 0, false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	// The fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14 and stime 15 (proc(5)).
	i := bytes.LastIndexByte(b, ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	// Clock ticks of USER_HZ, which is 100 on every Linux architecture Go
	// supports.
	d = time.Duration(ut+st) * (time.Second / 100)
	if !tree {
		return d, true
	}
	if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
		for _, k := range strings.Fields(string(kids)) {
			if kid, err := strconv.Atoi(k); err == nil {
				if kd, ok := cpuTime(kid, true); ok {
					d += kd
				}
			}
		}
	}
	return d, true
}

// switches counts the context switches (voluntary and not) of every
// thread of process pid, and with tree of its children's (nginx's
// workers), read from /proc; 0 where there is no /proc or pid is 0.
// Threads that have ended are not counted.
func switches(pid int, tree bool) int64 {
	if runtime.GOOS != "linux" || pid == 0 {
		return 0
	}
	var n int64
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if name, v, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(name, "ctxt_switches") {
				if k, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					n += k
				}
			}
		}
	}
	if tree {
		if kids, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)); err == nil {
			for _, k := range strings.Fields(string(kids)) {
				if kid, err := strconv.Atoi(k); err == nil {
					n += switches(kid, true)
				}
			}
		}
	}
	return n
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

const (
	replicaEnv  = "FAILOVER_REPLICA"
	endpointEnv = "FAILOVER_ETCD"
	targetKey   = "demo/target/checkout"
	target      = "checkout"
)

func main() {
	if name := os.Getenv(replicaEnv); name != "" {
		if err := replica(name, os.Getenv(endpointEnv)); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		return
	}
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "failover:", err)
		os.Exit(1)
	}
}

// run starts etcd and two replicas, kills the one driving the release, and
// reports how the other finished it.
func run(out io.Writer) error {
	dir, err := os.MkdirTemp("", "glidepath-failover-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	srv, err := etcdtest.Launch(dir)
	if err != nil {
		return err
	}
	defer srv.Stop()
	fmt.Fprintf(out, "etcd at %s\n", srv.Endpoint)
	cli, err := srv.NewClient()
	if err != nil {
		return err
	}
	defer cli.Close()
	if err := (kvTarget{cli: cli}).Apply(context.Background(), stateOf("v1")); err != nil {
		return err
	}

	a, aout, err := startReplica("replica-a", srv.Endpoint)
	if err != nil {
		return err
	}
	defer a.Process.Kill()
	for line := range lines(aout) {
		fmt.Fprintf(out, "[replica-a] %s\n", line)
		if strings.HasPrefix(line, "error") {
			return errors.New(line)
		}
		if line == "applied v2 at 40%" {
			_ = a.Process.Kill() // SIGKILL: no chance to clean up
			_ = a.Wait()
			fmt.Fprintln(out, "replica-a killed in the middle of the release")
			break
		}
	}
	b, bout, err := startReplica("replica-b", srv.Endpoint)
	if err != nil {
		return err
	}
	defer func() { _ = b.Process.Kill(); _ = b.Wait() }()
	for line := range lines(bout) {
		fmt.Fprintf(out, "[replica-b] %s\n", line)
		if strings.HasPrefix(line, "error") {
			return errors.New(line)
		}
		if strings.HasPrefix(line, "finished") {
			break
		}
	}
	obs, err := kvTarget{cli: cli}.Observe(context.Background())
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "target now serves %s (canary %q, weight %d%%)\n", obs.State.Stable, obs.State.Canary, obs.State.Weight)
	store, err := etcdstore.New(cli, etcdstore.Options{Prefix: "demo/"})
	if err != nil {
		return err
	}
	hist, err := (&rollback.Manager{Store: store, Owner: "report"}).History(context.Background(), target)
	if err != nil {
		return err
	}
	for _, e := range hist {
		fmt.Fprintf(out, "history: %s %s, resumed %d time(s)\n", e.Release, e.Phase, e.Resumed)
	}
	return nil
}

func startReplica(name, endpoint string) (*exec.Cmd, io.Reader, error) {
	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	if exe, err := os.Executable(); err == nil {
		cmd.Path = exe
	}
	cmd.Env = append(os.Environ(), replicaEnv+"="+name, endpointEnv+"="+endpoint)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	return cmd, out, cmd.Start()
}

func lines(r io.Reader) func(func(string) bool) {
	return func(yield func(string) bool) {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if !yield(sc.Text()) {
				return
			}
		}
	}
}

// replica is one deploy-service replica: a Manager that starts the release
// (replica-a does) and a Worker that takes over releases whose driver died.
func replica(name, endpoint string) error {
	cli, err := etcdtest.NewClient(endpoint)
	if err != nil {
		return err
	}
	defer cli.Close()
	store, err := etcdstore.New(cli, etcdstore.Options{Prefix: "demo/"})
	if err != nil {
		return err
	}
	m := &rollback.Manager{Store: store, Owner: name, LeaseTTL: 2 * time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if name == "replica-a" {
		rel := release(cli)
		rel.Stable, rel.Canary = "v1", "v2"
		ro, err := m.Start(ctx, target, rel)
		if err != nil {
			return err
		}
		fmt.Println("started v1->v2")
		res, err := ro.Wait(ctx)
		fmt.Println("finished", res.Phase, err)
		return nil
	}
	fmt.Println("watching for releases whose driver died")
	w := &rollback.Worker{
		Manager: m,
		// Everything that cannot be stored is rebuilt here: the target,
		// the strategy and its analyzers, the options.
		Rebuild: func(_ context.Context, rec rollback.Recorded) (strategy.Release, error) {
			fmt.Printf("taking over %s (%s -> %s) from %s\n", rec.Release, rec.Stable, rec.Canary, rec.Owner)
			return release(cli), nil
		},
		Interval: 250 * time.Millisecond,
		OnEvent: func(e rollback.WorkerEvent) {
			if e.Done {
				fmt.Println("finished", e.Release, e.Result.Phase)
				cancel()
			} else if e.Err != nil {
				fmt.Println("worker:", e.Err)
			}
		},
	}
	return w.Run(ctx)
}

// release is the release both replicas know how to build: a canary in five
// steps on the key-value target.
func release(cli *clientv3.Client) strategy.Release {
	plan := strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		p := strategy.Plan{Strategy: "demo-canary", Stable: stateOf(stable)}
		for _, w := range []int{20, 40, 60, 80} {
			p.Steps = append(p.Steps,
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: w, Replicas: strategy.Replicas{Stable: 4, Canary: 2}}),
				strategy.Pause(500*time.Millisecond))
		}
		p.Steps = append(p.Steps, strategy.Apply(stateOf(canary)))
		return p, nil
	})
	return strategy.Release{Target: kvTarget{cli: cli, verbose: true}, Strategy: plan,
		Options: strategy.Options{PollInterval: 20 * time.Millisecond}}
}

func stateOf(rev strategy.Revision) strategy.State {
	return strategy.State{Stable: rev, Replicas: strategy.Replicas{Stable: 4}}
}

// kvTarget keeps the served State in one etcd key: a stand-in for a real
// traffic router that both replicas can drive.
type kvTarget struct {
	cli     *clientv3.Client
	verbose bool
}

func (t kvTarget) Apply(ctx context.Context, s strategy.State) error {
	data, err := json.Marshal(s)
	if err != nil {
		return err
	}
	if _, err := t.cli.Put(ctx, targetKey, string(data)); err != nil {
		return err
	}
	if t.verbose {
		if s.Canary != "" {
			fmt.Printf("applied %s at %d%%\n", s.Canary, s.Weight)
		} else {
			fmt.Printf("applied %s\n", s.Stable)
		}
	}
	return nil
}

func (t kvTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	r, err := t.cli.Get(ctx, targetKey)
	if err != nil {
		return strategy.Observation{}, err
	}
	var s strategy.State
	if len(r.Kvs) > 0 {
		if err := json.Unmarshal(r.Kvs[0].Value, &s); err != nil {
			return strategy.Observation{}, err
		}
	}
	return strategy.Observation{State: s, Ready: s.Replicas}, nil
}

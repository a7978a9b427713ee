package etcdstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
	"github.com/glidepath/glidepath/strategy"
)

const (
	helperEnv   = "GLIDEPATH_ETCDSTORE_HELPER"
	endpointEnv = "GLIDEPATH_ETCDSTORE_ENDPOINT"
)

// helperMain runs this test binary as a release driver when the failover
// tests start it with helperEnv set, and reports whether it did.
func helperMain() bool {
	if os.Getenv(helperEnv) != "driver" {
		return false
	}
	cli, err := etcdtest.NewClient(os.Getenv(endpointEnv))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	s, err := New(cli, Options{Prefix: "failover/"})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	m := &rollback.Manager{Store: s, Owner: fmt.Sprintf("driver-%d", os.Getpid()), LeaseTTL: time.Second}
	rel := failoverRelease(cli, true)
	ro, err := m.Start(context.Background(), "svc", rel)
	if err != nil {
		fmt.Println("error", err)
		os.Exit(2)
	}
	res, err := ro.Wait(context.Background())
	fmt.Println("done", res.Phase, err)
	return true
}

// etcdTarget is a Target whose State is one etcd key, shared by every
// process; with verbose set, each Apply prints a line.
type etcdTarget struct {
	cli     *clientv3.Client
	verbose bool
}

const targetKey = "target/svc"

func (e etcdTarget) Apply(ctx context.Context, s strategy.State) error {
	data, _ := json.Marshal(s)
	if _, err := e.cli.Put(ctx, targetKey, string(data)); err != nil {
		return err
	}
	if e.verbose {
		fmt.Println("applied", s.Weight)
	}
	return nil
}

func (e etcdTarget) Observe(ctx context.Context) (strategy.Observation, error) {
	r, err := e.cli.Get(ctx, targetKey)
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

func failoverPlan() strategy.Strategy {
	return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		p := strategy.Plan{Strategy: "failover-canary", Stable: strategy.State{Stable: stable, Replicas: strategy.Replicas{Stable: 4}}}
		for _, w := range []int{10, 20, 30, 40, 50, 60} {
			p.Steps = append(p.Steps,
				strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: w, Replicas: strategy.Replicas{Stable: 4, Canary: 2}}),
				strategy.Pause(100*time.Millisecond))
		}
		p.Steps = append(p.Steps, strategy.Apply(strategy.State{Stable: canary, Replicas: strategy.Replicas{Stable: 4}}))
		return p, nil
	})
}

func failoverRelease(cli *clientv3.Client, verbose bool) strategy.Release {
	return strategy.Release{Target: etcdTarget{cli: cli, verbose: verbose}, Stable: "v1", Canary: "v2", Strategy: failoverPlan(),
		Options: strategy.Options{PollInterval: 5 * time.Millisecond, RetryInitial: 5 * time.Millisecond, ProgressDeadline: 30 * time.Second}}
}

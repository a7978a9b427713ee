package flags_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/open-feature/go-sdk/openfeature"
	"github.com/open-feature/go-sdk/openfeature/isolated"

	"github.com/glidepath/glidepath/analysis/judge"
	"github.com/glidepath/glidepath/canary"
	"github.com/glidepath/glidepath/flags"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestTargetConformance(t *testing.T) {
	for _, replicas := range []bool{false, true} {
		synctest.Test(t, func(t *testing.T) {
			strategytest.TestTarget(t, strategytest.Conformance{
				New: func() strategy.Target {
					f := checkout(0)
					f.Rollout = flags.Rollout{Control: "off"}
					return flags.NewTarget(newProvider(t, f), "new-checkout")
				},
				Initial:  strategy.State{Stable: "off"},
				Canary:   "on",
				Replicas: replicas,
			})
		})
	}
}

// simulate sends perSecond users a second, drawn from a population of
// users, until ctx ends: each evaluates the flag through the client, sends
// a "request" event, and an "error" event with probability baseRate, or
// baseRate × ratio when it was served the treatment.
func simulate(ctx context.Context, client *openfeature.Client, perSecond int, baseRate, ratio float64) {
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	one := openfeature.NewTrackingEventDetails(1)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range perSecond {
			u := user(fmt.Sprintf("user-%d", rng.IntN(50_000)))
			on := client.Boolean(ctx, "new-checkout", false, u)
			client.Track(ctx, "request", u, one)
			rate := baseRate
			if on {
				rate *= ratio
			}
			if rng.Float64() < rate {
				client.Track(ctx, "error", u, one)
			}
		}
	}
}

// A canary release of a flag from 0 to 100%, guarded by the error events
// its users send, in fake time. When the treatment's users fail twice as
// often as control's, the release rolls back to 0% and the provider then
// serves control to everyone; when they fail as often, it is promoted.
func TestGuardedFlagRelease(t *testing.T) {
	for _, c := range []struct {
		ratio float64
		phase strategy.Phase
		want  bool // the value everyone is served at the end
	}{
		{ratio: 2, phase: strategy.PhaseRolledBack, want: false},
		{ratio: 1, phase: strategy.PhasePromoted, want: true},
	} {
		t.Run(fmt.Sprintf("ratio=%v", c.ratio), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := newProvider(t, checkout(0))
				api := isolated.NewAPI()
				if err := api.SetProviderAndWait(t.Context(), p); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if err := api.Shutdown(context.Background()); err != nil {
						t.Error(err)
					}
				}()
				client := api.NewClient()
				src, err := p.CountSource(flags.Metrics{Flag: "new-checkout", Trials: "request", Failures: "error"})
				if err != nil {
					t.Fatal(err)
				}

				cfg := canary.Config{
					// At 100% there is no control left to compare with:
					// the last analysis runs at 50%, then the plan promotes.
					StepWeights: []int{10, 25, 50},
					Interval:    5 * time.Minute,
					Analyzers: []strategy.Analyzer{&judge.Sequential{
						Label: "error-rate", Source: src, Interval: time.Minute, MaxDuration: time.Hour,
					}},
				}
				var mu sync.Mutex
				var applied []strategy.StateApplied
				obs := strategy.ObserverFunc(func(e strategy.Event) {
					if a, ok := e.(strategy.StateApplied); ok {
						mu.Lock()
						applied = append(applied, a)
						mu.Unlock()
					}
				})

				// A safety net: a release left paused would otherwise
				// tick in fake time for ever.
				ctx, cancel := context.WithTimeout(t.Context(), 6*time.Hour)
				defer cancel()
				simCtx, stopSim := context.WithCancel(ctx)
				var wg sync.WaitGroup
				wg.Go(func() { simulate(simCtx, client, 100, 0.01, c.ratio) })

				start := time.Now()
				res, err := strategy.Run(ctx, strategy.Release{
					Name: "new-checkout", Target: flags.NewTarget(p, "new-checkout"),
					Stable: "off", Canary: "on", Strategy: cfg, Observer: obs,
				})
				stopSim()
				wg.Wait()

				if res.Phase != c.phase {
					t.Fatalf("release ended %s (%v), want %s", res.Phase, err, c.phase)
				}
				for _, v := range res.Verdicts {
					t.Logf("%v", v)
				}
				mu.Lock()
				defer mu.Unlock()
				if c.phase == strategy.PhaseRolledBack {
					if !errors.Is(err, strategy.ErrAnalysisFailed) {
						t.Fatalf("error %v, want ErrAnalysisFailed", err)
					}
					// It failed at the first analysis, at 10%, which began
					// after one interval.
					if len(res.Verdicts) != 1 || res.Verdicts[0].Outcome != strategy.Fail || res.Verdicts[0].Analyzer != "error-rate" {
						t.Fatalf("verdicts %v", res.Verdicts)
					}
					if took := res.FailedAt.Sub(start); took <= 5*time.Minute || took > 35*time.Minute {
						t.Errorf("failed after %v, want during the first analysis", took)
					}
					// The rollback set the percentage to 0, then removed the treatment.
					var back []strategy.State
					for _, a := range applied {
						if a.Rollback {
							back = append(back, a.State)
						}
					}
					want := []strategy.State{{Stable: "off", Canary: "on"}, {Stable: "off"}}
					if fmt.Sprint(back) != fmt.Sprint(want) {
						t.Errorf("rollback applied %v, want %v", back, want)
					}
				} else if err != nil {
					t.Fatal(err)
				}

				wantRollout := flags.Rollout{Control: "off"}
				if c.want {
					wantRollout = flags.Rollout{Control: "on"}
				}
				if r, _ := p.Rollout("new-checkout"); !r.Equal(wantRollout) {
					t.Fatalf("final rollout %+v, want %+v", r, wantRollout)
				}
				for i := range 10_000 {
					d, err := client.BooleanValueDetails(t.Context(), "new-checkout", !c.want, user(fmt.Sprintf("user-%d", i)))
					if err != nil || d.Value != c.want || d.Reason != openfeature.StaticReason {
						t.Fatalf("user-%d after the release: %+v, %v", i, d, err)
					}
				}
			})
		})
	}
}

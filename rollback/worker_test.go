package rollback_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/glidepath/glidepath/rollback"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// TestWorkerTakesOverAKilledRelease kills (SIGKILL) a process in the middle
// of a release on a file store; a Worker in this process notices the dead
// driver's lease expire, rebuilds the release and drives it to its end.
func TestWorkerTakesOverAKilledRelease(t *testing.T) {
	for name, mode := range map[string]rollback.ResumeMode{"continue": rollback.Continue, "rollback": rollback.RollBack} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			tgt := fileTarget{filepath.Join(dir, "target.jsonl")}
			if err := tgt.Apply(t.Context(), strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 4}}); err != nil {
				t.Fatal(err)
			}
			cmd := helper(t, "crash", dir, failEnv+"=0")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(out)
			for i := 0; i < 12 && sc.Scan(); i++ { // a dozen events: the canary is at 10% or 30%
			}
			_ = cmd.Process.Kill()
			_, _ = io.Copy(io.Discard, out)
			_ = cmd.Wait()

			store, err := rollback.OpenFileStore(filepath.Join(dir, "store"), rollback.FileOptions{})
			if err != nil {
				t.Fatal(err)
			}
			pend, err := (&rollback.Manager{Store: store, Owner: "peek"}).Pending(t.Context(), "svc")
			if err != nil || pend == nil {
				t.Fatalf("the killed process left no pending release: %v", err)
			}
			t.Logf("killed at %s after %d records", pend.Progress.Phase, pend.Progress.Records)
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var (
				mu      sync.Mutex
				events  []rollback.WorkerEvent
				rebuilt []rollback.Recorded
			)
			w := &rollback.Worker{
				Manager: &rollback.Manager{Store: store, Owner: "worker", LeaseTTL: 5 * time.Second},
				Mode:    mode,
				Rebuild: func(_ context.Context, rec rollback.Recorded) (strategy.Release, error) {
					mu.Lock()
					rebuilt = append(rebuilt, rec)
					mu.Unlock()
					return crashRelease(dir, 0), nil
				},
				Interval: 10 * time.Millisecond,
				OnEvent: func(e rollback.WorkerEvent) {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
					if e.Done {
						cancel()
					}
				},
			}
			if err := w.Run(ctx); err != nil {
				t.Fatal(err)
			}
			if t.Context().Err() != nil {
				t.Fatal("the test ran out of time before the worker finished the release")
			}
			if len(rebuilt) != 1 || rebuilt[0].Release != "v1->v2" || rebuilt[0].Stable != "v1" || rebuilt[0].Canary != "v2" ||
				rebuilt[0].Strategy != pend.Progress.Strategy || !strings.HasPrefix(rebuilt[0].Owner, "child-") {
				t.Fatalf("Rebuild saw %+v", rebuilt)
			}
			want := strategy.PhasePromoted
			if mode == rollback.RollBack {
				want = strategy.PhaseRolledBack
			}
			hist, err := w.Manager.History(t.Context(), "svc")
			if err != nil || len(hist) != 1 || hist[0].Phase != want || hist[0].Resumed != 1 {
				t.Fatalf("history %+v (%v), want one %s entry resumed once", hist, err, want)
			}
			states, err := tgt.states()
			if err != nil {
				t.Fatal(err)
			}
			wantRev := strategy.Revision("v2")
			if want == strategy.PhaseRolledBack {
				wantRev = "v1"
			}
			if final := states[len(states)-1]; final.Stable != wantRev || final.Canary != "" {
				t.Fatalf("target ends at %+v, want %s only", final, wantRev)
			}
			var resumed, done int
			for _, e := range events {
				if e.Resumed {
					resumed++
				}
				if e.Done {
					done++
					if e.Result.Phase != want {
						t.Errorf("done event %+v, want %s", e, want)
					}
				}
				if e.Err != nil && !e.Done {
					t.Errorf("worker reported %v", e.Err)
				}
			}
			if resumed != 1 || done != 1 {
				t.Fatalf("events %+v: want one resume and one end", events)
			}
		})
	}
}

// holdPlan applies a canary and waits for Promote.
func holdPlan() strategy.Strategy {
	return strategy.StrategyFunc(func(stable, canary strategy.Revision) (strategy.Plan, error) {
		return strategy.Plan{Strategy: "hold", Stable: stateOf(stable), Steps: []strategy.Step{
			strategy.Apply(strategy.State{Stable: stable, Canary: canary, Weight: 20, Replicas: strategy.Replicas{Stable: 4, Canary: 1}}),
			strategy.Pause(0),
			strategy.Apply(stateOf(canary)),
		}}, nil
	})
}

// TestWorkerLeavesLiveAndStoppedReleases: a worker never takes a release
// from a live driver (its lease is renewed), nor one that a live process
// stopped on purpose, unless ResumeStopped says so.
func TestWorkerLeavesLiveAndStoppedReleases(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := rollback.NewMemStore()
		tgt := strategytest.NewTarget(stateOf("v1"))
		a := &rollback.Manager{Store: store, Owner: "a", LeaseTTL: time.Second}
		actx, stopA := context.WithCancel(t.Context())
		ro, err := a.Start(actx, "svc", strategy.Release{Target: tgt, Stable: "v1", Canary: "v2", Strategy: holdPlan(),
			Options: strategy.Options{OnCancel: strategy.Policy{Leave: true}}})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var events []rollback.WorkerEvent
		run := func(resumeStopped bool) {
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			w := &rollback.Worker{
				Manager: &rollback.Manager{Store: store, Owner: "b", LeaseTTL: time.Second}, ResumeStopped: resumeStopped,
				Rebuild: func(context.Context, rollback.Recorded) (strategy.Release, error) {
					return strategy.Release{Target: tgt, Strategy: holdPlan()}, nil
				},
				OnEvent: func(e rollback.WorkerEvent) {
					mu.Lock()
					events = append(events, e)
					mu.Unlock()
					if e.Resumed {
						_ = e.Rollout.Abort()
					}
					if e.Done {
						cancel()
					}
				},
			}
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}
		// Ten seconds of scans while a holds the release paused.
		run(false)
		if len(events) != 0 {
			t.Fatalf("the worker acted on a live driver's release: %+v", events)
		}
		// a stops, leaving the release as recorded; it stays for a person.
		stopA()
		if res, _ := ro.Wait(t.Context()); res.Phase != strategy.PhaseStopped {
			t.Fatalf("a's release ended %s", res.Phase)
		}
		run(false)
		if len(events) != 0 {
			t.Fatalf("the worker resumed a release stopped on purpose: %+v", events)
		}
		run(true)
		if len(events) != 2 || !events[0].Resumed || !events[1].Done || events[1].Result.Phase != strategy.PhaseRolledBack {
			t.Fatalf("with ResumeStopped: events %+v, want a resume and a rollback", events)
		}
	})
}

func TestWorkerValidate(t *testing.T) {
	err := (&rollback.Worker{Mode: 7, Interval: -1, Targets: []string{""}}).Run(t.Context())
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"no Manager", "no Rebuild", "unknown Mode 7", "Interval is negative", "empty target name"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q: %v", want, err)
		}
	}
	err = (&rollback.Worker{Manager: &rollback.Manager{Store: listless{rollback.NewMemStore()}, Owner: "w"},
		Rebuild: func(context.Context, rollback.Recorded) (strategy.Release, error) { return strategy.Release{}, nil }}).Validate()
	if err == nil || !strings.Contains(err.Error(), "cannot list its targets") {
		t.Fatalf("a store that cannot list and no Targets: %v", err)
	}
}

// listless hides MemStore's TargetLister.
type listless struct{ rollback.Store }

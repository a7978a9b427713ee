package rollback

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// Recorded is what a [Store] recorded about an unfinished release: all a
// [Rebuild] function gets to rebuild it.
type Recorded struct {
	// Target is the target's name in the Store.
	Target string
	// Release is the release's name; Stable and Canary its revisions.
	Release        string
	Stable, Canary strategy.Revision
	// Strategy is the name of the strategy that planned it (the plan's
	// Strategy field): rebuild the same strategy, with the same analyzers.
	// It is empty when the driver died before its journal recorded the
	// start.
	Strategy string
	// Owner is the owner that last ran it; Resumed how often it was
	// resumed before.
	Owner   string
	Resumed int
	// RollingBack says the journal records a rollback in progress: the
	// resume rolls back whatever the Worker's Mode.
	RollingBack bool
	// Undo marks a release made by [Manager.Undo] (its recorded plan is
	// used; the rebuilt Strategy is ignored).
	Undo bool
}

// Rebuild rebuilds, from what the Store recorded, the parts of a release
// that cannot be stored: the Target, the Strategy with its analyzers, the
// Background analyzers, the Options and the Observer. Leave Name, Stable
// and Canary empty: the Worker fills them in from rec (and a resume refuses
// differing ones). The rebuilt plan must be the one recorded, or the resume
// fails with [ErrPlanChanged] (a Worker in RollBack mode needs only the
// Target). Return an error to leave the release for the next scan (or for
// another worker that can rebuild it).
type Rebuild func(ctx context.Context, rec Recorded) (strategy.Release, error)

// TargetLister is an optional [Store] capability: the names of the targets
// the store keeps records of. A [Worker] without Targets needs it;
// MemStore, FileStore and the etcd store implement it.
type TargetLister interface {
	Targets(ctx context.Context) ([]string, error)
}

// Worker takes over releases whose driver died: it scans the targets,
// and for each one with an unfinished release whose lease has expired it
// takes the lease, rebuilds the release with Rebuild and resumes it through
// [Manager.Resume]'s path (continuing or rolling back, per Mode). Run one
// Worker in each replica of a deploy service, next to the Manager that
// starts releases: together they drive every release to its end as long
// as one replica lives.
//
// A release that recorded its own end unfinished (Stopped by
// OnCancel.Leave, Degraded) was left by a live process on purpose and is
// not resumed unless ResumeStopped is set.
type Worker struct {
	// Manager resumes the releases (its Owner names this worker in
	// leases). Required.
	Manager *Manager
	// Rebuild rebuilds a recorded release. Required.
	Rebuild Rebuild
	// Targets lists the targets to watch. When empty, the Store must
	// implement [TargetLister] and every target it lists is watched.
	Targets []string
	// Mode is how a release is resumed: Continue (default) or RollBack.
	Mode ResumeMode
	// ResumeStopped also resumes releases that ended Stopped or
	// Degraded.
	ResumeStopped bool
	// Interval is the time between scans (default the Manager's lease
	// TTL / 2, so a dead driver's release is resumed at most 1.5 TTL
	// after its last renewal).
	Interval time.Duration
	// OnEvent, when set, is called (from the Worker's goroutines) with
	// what the Worker does.
	OnEvent func(WorkerEvent)
}

// WorkerEvent reports one thing a [Worker] did.
type WorkerEvent struct {
	// Target and Release name the release.
	Target, Release string
	// Resumed is set when the Worker took the release over; Rollout is
	// then the resumed rollout.
	Resumed bool
	Rollout *strategy.Rollout
	// Done is set when a resumed release ended, with its Result.
	Done   bool
	Result strategy.Result
	// Err is a problem: a scan that failed, a Rebuild or resume that
	// was refused, or the error the resumed release ended with.
	Err error
}

// Validate reports every problem with the Worker's configuration.
func (w *Worker) Validate() error {
	if w == nil {
		return strategy.Invalid("rollback worker", "nil Worker")
	}
	var p []string
	if w.Manager == nil {
		p = append(p, "no Manager")
	} else if err := w.Manager.Validate(); err != nil {
		var ce *strategy.ConfigError
		if errors.As(err, &ce) {
			p = append(p, ce.Problems...)
		} else {
			p = append(p, err.Error())
		}
	} else if _, ok := w.Manager.Store.(TargetLister); !ok && len(w.Targets) == 0 {
		p = append(p, fmt.Sprintf("no Targets, and the Store (%T) cannot list its targets", w.Manager.Store))
	}
	if w.Rebuild == nil {
		p = append(p, "no Rebuild function")
	}
	if w.Mode != Continue && w.Mode != RollBack {
		p = append(p, fmt.Sprintf("unknown Mode %d", w.Mode))
	}
	if w.Interval < 0 {
		p = append(p, fmt.Sprintf("Interval is negative (%v)", w.Interval))
	}
	if slices.Contains(w.Targets, "") {
		p = append(p, "an empty target name in Targets")
	}
	return strategy.Invalid("rollback worker", p...)
}

// Run scans until ctx is cancelled, then waits for the releases it
// resumed to end (a cancelled context stops them as their Options'
// OnCancel says) and returns nil. It returns a configuration error at once.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Validate(); err != nil {
		return err
	}
	interval := w.Interval
	if interval == 0 {
		interval = max(w.Manager.ttl()/2, time.Millisecond)
	}
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		driving = map[string]bool{}
	)
	defer wg.Wait()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, target := range w.targets(ctx) {
			mu.Lock()
			busy := driving[target]
			mu.Unlock()
			if busy || ctx.Err() != nil {
				continue
			}
			ro, name, err := w.takeOver(ctx, target)
			if err != nil {
				w.emit(WorkerEvent{Target: target, Release: name, Err: err})
			}
			if ro == nil {
				continue
			}
			mu.Lock()
			driving[target] = true
			mu.Unlock()
			w.emit(WorkerEvent{Target: target, Release: name, Resumed: true, Rollout: ro})
			wg.Go(func() {
				res, err := ro.Wait(context.WithoutCancel(ctx))
				mu.Lock()
				delete(driving, target)
				mu.Unlock()
				w.emit(WorkerEvent{Target: target, Release: name, Done: true, Result: res, Err: err})
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (w *Worker) emit(e WorkerEvent) {
	if w.OnEvent != nil {
		w.OnEvent(e)
	}
}

func (w *Worker) targets(ctx context.Context) []string {
	if len(w.Targets) > 0 {
		return w.Targets
	}
	names, err := w.Manager.Store.(TargetLister).Targets(ctx)
	if err != nil && ctx.Err() == nil {
		w.emit(WorkerEvent{Err: fmt.Errorf("rollback: listing targets: %w", err)})
	}
	return names
}

// takeOver resumes target's release when it has one whose lease is free.
// It returns nil, with a nil error, when there is nothing to do.
func (w *Worker) takeOver(ctx context.Context, target string) (*strategy.Rollout, string, error) {
	m := w.Manager
	tr, err := m.Store.Load(ctx, target)
	if ctx.Err() != nil {
		return nil, "", nil // the worker is stopping
	}
	if err != nil || tr.Active == nil {
		return nil, "", err
	}
	name := tr.Active.Release
	lease, err := m.Store.Acquire(ctx, target, m.Owner, m.ttl())
	if errors.Is(err, ErrLeaseHeld) || err != nil && ctx.Err() != nil {
		// Its driver lives (or another worker was quicker), or the
		// worker is stopping.
		return nil, name, nil
	}
	if err != nil {
		return nil, name, fmt.Errorf("rollback: taking over %s on %q: %w", name, target, err)
	}
	ro, err := w.resume(ctx, lease, target)
	if ro == nil {
		m.release(ctx, lease)
	}
	if errors.Is(err, ErrNothingToResume) || err != nil && ro == nil && ctx.Err() != nil {
		// It ended meanwhile (settling it recorded its history), or the
		// worker is stopping.
		err = nil
	}
	return ro, name, err
}

func (w *Worker) resume(ctx context.Context, lease Lease, target string) (*strategy.Rollout, error) {
	m := w.Manager
	p, err := m.Pending(ctx, target)
	if err != nil || p == nil {
		return nil, err
	}
	if !p.Progress.Finished.IsZero() && p.Progress.Pending() && !w.ResumeStopped {
		return nil, nil // left Stopped or Degraded by a live process: a person decides
	}
	a := p.Active
	rec := Recorded{Target: target, Release: a.Release, Stable: a.Stable, Canary: a.Canary, Strategy: p.Progress.Strategy,
		Owner: a.Owner, Resumed: a.Resumed, RollingBack: p.Progress.Checkpoint.Rollback, Undo: a.Undo}
	rel, err := w.Rebuild(ctx, rec)
	if err != nil {
		return nil, fmt.Errorf("rollback: rebuilding %s on %q: %w", a.Release, target, err)
	}
	ro, err := m.resumeUnder(ctx, lease, target, rel, ResumeOptions{Mode: w.Mode})
	if err != nil {
		return nil, err
	}
	return ro, nil
}

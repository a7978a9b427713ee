package strategytest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/glidepath/glidepath/strategy"
)

// ErrInjected is the error an injected [Fault] returns when it names none.
var ErrInjected = errors.New("strategytest: injected fault")

// Op names a Target method that a [Fault] applies to.
type Op string

// The operations faults can target.
const (
	OpApply   Op = "apply"
	OpObserve Op = "observe"
)

// Fault describes an injected failure. A call of Op numbered n (1-based,
// counting every call of that Op) is affected when n > After and either
// Times is 0 (for good) or n <= After+Times; or, when For is set, while less
// than For has passed since the first affected call.
type Fault struct {
	Op Op
	// After is how many calls succeed before the fault starts.
	After int
	// Times is how many calls fail; 0 means every call from then on,
	// unless For is set.
	Times int
	// For, when set, makes the fault last this long (in the target's
	// clock) from its first affected call, instead of counting calls.
	For time.Duration
	// Err is returned (ErrInjected when nil).
	Err error
	// Permanent wraps Err with strategy.Permanent.
	Permanent bool
	// Hang blocks the call until its context is done, then returns the
	// context's error.
	Hang bool
	// Applied makes an affected Apply take effect before it fails (or
	// hangs): the target did the work but the reply was lost, so the
	// caller cannot tell from the error whether the State was applied.
	Applied bool
	// AfterPrevious makes the fault count its calls (After, Times) from
	// the moment the fault before it in Target.Faults last affected a
	// call, and not before: "the next Observe after a lost Apply reply
	// fails", whatever the calls in between.
	AfterPrevious bool

	started time.Time
	base    int  // AfterPrevious: the count of Op's calls when the previous fault fired
	armed   bool // AfterPrevious: the previous fault has fired
}

// Applied is one entry of a Target's history.
type Applied struct {
	// State is the State applied.
	State strategy.State
	// At is when it was applied.
	At time.Time
	// ReadyBefore is what Observe would have reported just before the
	// Apply: the readiness that the State's traffic moved onto.
	ReadyBefore strategy.Observation
}

// Target is an in-memory [strategy.Target] for tests: it keeps every
// applied State with its time, models instances that become ready after
// ReadyAfter, and injects faults. Set the exported fields before the first
// call; the zero value is an empty target whose instances are ready at once.
// It is safe for concurrent use.
type Target struct {
	// ReadyAfter is how long a new instance (or, for States without
	// replicas, a newly added revision) takes to become ready.
	ReadyAfter time.Duration
	// NeverReady lists revisions whose instances never become ready.
	NeverReady []strategy.Revision
	// Faults are checked, in order, on every call; the first that
	// applies decides.
	Faults []Fault
	// HeaderRouting makes the target report the header-routing
	// capability (strategy.HeaderRouter).
	HeaderRouting bool

	fenceMu   sync.Mutex // serializes ApplyFenced: check and write are one step
	fence     uint64     // the highest fencing token accepted; under mu
	mu        sync.Mutex
	state     strategy.State
	instances map[strategy.Revision][]time.Time // ready-at time per instance
	history   []Applied
	calls     map[Op]int
}

// NewTarget returns a Target already serving initial, with its instances
// ready.
func NewTarget(initial strategy.State) *Target {
	t := &Target{}
	t.state = initial
	t.instances = map[strategy.Revision][]time.Time{}
	now := time.Now()
	for _, rev := range []strategy.Revision{initial.Stable, initial.Canary} {
		if rev == "" {
			continue
		}
		n := max(initial.Desired(rev), 1)
		for range n {
			t.instances[rev] = append(t.instances[rev], now)
		}
	}
	return t
}

// SupportsHeaderRouting reports the HeaderRouting field.
func (t *Target) SupportsHeaderRouting() bool { return t.HeaderRouting }

var _ strategy.HeaderRouter = (*Target)(nil)

// fault returns the fault that applies to this call of op, if any. t.mu is held.
func (t *Target) fault(op Op) *Fault {
	if t.calls == nil {
		t.calls = map[Op]int{}
	}
	t.calls[op]++
	n := t.calls[op]
	now := time.Now()
	for i := range t.Faults {
		f := &t.Faults[i]
		if f.Op != op {
			continue
		}
		if f.AfterPrevious {
			if !f.armed || n <= f.base+f.After || (f.Times > 0 && n > f.base+f.After+f.Times) {
				continue
			}
			t.fired(i)
			return f
		}
		if n <= f.After {
			continue
		}
		if f.For > 0 {
			if f.started.IsZero() {
				f.started = now
			}
			if now.Sub(f.started) < f.For {
				t.fired(i)
				return f
			}
			continue
		}
		if f.Times == 0 || n <= f.After+f.Times {
			t.fired(i)
			return f
		}
	}
	return nil
}

// fired arms the fault after fault i when it counts from it. t.mu is held.
func (t *Target) fired(i int) {
	if i+1 < len(t.Faults) && t.Faults[i+1].AfterPrevious {
		next := &t.Faults[i+1]
		next.armed, next.base = true, t.calls[next.Op]
	}
}

// pick counts a call of op and returns a copy of the fault that applies to
// it, if any.
func (t *Target) pick(op Op) (Fault, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.fault(op)
	if f == nil {
		return Fault{}, false
	}
	return *f, true
}

func (t *Target) inject(ctx context.Context, op Op) error {
	cp, ok := t.pick(op)
	if !ok {
		return nil
	}
	return cp.fail(ctx, op)
}

// fail returns the error of the fault f for a call of op.
func (f Fault) fail(ctx context.Context, op Op) error {
	if f.Hang {
		<-ctx.Done()
		return ctx.Err()
	}
	err := f.Err
	if err == nil {
		err = ErrInjected
	}
	err = fmt.Errorf("%s: %w", op, err)
	if f.Permanent {
		err = strategy.Permanent(err)
	}
	return err
}

// Apply records desired and updates the modelled instances.
func (t *Target) Apply(ctx context.Context, desired strategy.State) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, faulty := t.pick(OpApply)
	if faulty && !f.Applied {
		return f.fail(ctx, OpApply)
	}
	if err := desired.Validate(); err != nil {
		return strategy.Permanent(fmt.Errorf("strategytest: %w", err))
	}
	if !desired.Route.IsZero() && !t.HeaderRouting {
		return strategy.Permanent(errors.New("strategytest: header routing is not enabled on this target"))
	}
	t.apply(desired)
	if faulty {
		return f.fail(ctx, OpApply)
	}
	return nil
}

var _ strategy.FencedTarget = (*Target)(nil)

// ApplyFenced applies desired like Apply when token is 0 (unfenced) or at
// least the highest token it has accepted, and remembers the highest. A
// lower token is refused with a Permanent error matching
// strategy.ErrFenced, and nothing is applied: the write of a driver that
// lost its lease to a newer holder.
func (t *Target) ApplyFenced(ctx context.Context, desired strategy.State, token uint64) error {
	t.fenceMu.Lock()
	defer t.fenceMu.Unlock()
	t.mu.Lock()
	highest := t.fence
	if token > highest {
		t.fence = token
	}
	t.mu.Unlock()
	if token != 0 && token < highest {
		return strategy.Permanent(fmt.Errorf("strategytest: %w: token %d is older than %d", strategy.ErrFenced, token, highest))
	}
	return t.Apply(ctx, desired)
}

// FenceToken returns the highest fencing token ApplyFenced has accepted.
func (t *Target) FenceToken() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.fence
}

func (t *Target) apply(desired strategy.State) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	before := t.observeLocked(now)
	if t.instances == nil {
		t.instances = map[strategy.Revision][]time.Time{}
	}
	keep := map[strategy.Revision]bool{}
	for _, rev := range []strategy.Revision{desired.Stable, desired.Canary} {
		if rev == "" {
			continue
		}
		keep[rev] = true
		want := desired.Desired(rev)
		if desired.Replicas == (strategy.Replicas{}) {
			want = 1 // a revision without instances is "up" once present
		}
		have := t.instances[rev]
		for len(have) < want {
			have = append(have, now.Add(t.ReadyAfter))
		}
		if len(have) > want {
			// Remove the instances that would be ready last first.
			slices.SortFunc(have, func(a, b time.Time) int { return a.Compare(b) })
			have = have[:want]
		}
		t.instances[rev] = have
	}
	for rev := range t.instances {
		if !keep[rev] {
			delete(t.instances, rev)
		}
	}
	t.state = desired
	t.history = append(t.history, Applied{State: desired, At: now, ReadyBefore: before})
}

// Observe reports the current State and how many instances are ready.
func (t *Target) Observe(ctx context.Context) (strategy.Observation, error) {
	if err := ctx.Err(); err != nil {
		return strategy.Observation{}, err
	}
	if err := t.inject(ctx, OpObserve); err != nil {
		return strategy.Observation{}, err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.observeLocked(time.Now()), nil
}

func (t *Target) observeLocked(now time.Time) strategy.Observation {
	o := strategy.Observation{State: t.state}
	o.Ready.Stable = t.readyLocked(t.state.Stable, now)
	if t.state.Canary != t.state.Stable {
		o.Ready.Canary = t.readyLocked(t.state.Canary, now)
	}
	return o
}

func (t *Target) readyLocked(rev strategy.Revision, now time.Time) int {
	if rev == "" || slices.Contains(t.NeverReady, rev) {
		return 0
	}
	n := 0
	for _, at := range t.instances[rev] {
		if !at.After(now) {
			n++
		}
	}
	return n
}

// State returns the State last applied.
func (t *Target) State() strategy.State {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state
}

// History returns every applied State, oldest first.
func (t *Target) History() []Applied {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.history)
}

// States returns the applied States, oldest first.
func (t *Target) States() []strategy.State {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]strategy.State, len(t.history))
	for i, h := range t.history {
		out[i] = h.State
	}
	return out
}

// Calls returns how many times op was called (failed calls included).
func (t *Target) Calls(op Op) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.calls[op]
}

// CheckCapacityBeforeTraffic verifies the invariant that traffic never moves onto capacity
// that is not ready: for every applied State that raised a revision's share
// of traffic (or routed headers to it), that revision was already ready at
// the State's desired capacity. prev is the State before the first entry
// (the zero State for a fresh target, whose first State is not checked). It returns one error naming every
// violation, or nil.
func CheckCapacityBeforeTraffic(prev strategy.State, history []Applied) error {
	var errs []error
	for i, h := range history {
		if prev.Stable == "" && prev.Canary == "" {
			prev = h.State // a fresh target served nothing to protect
			continue
		}
		for _, rev := range []strategy.Revision{h.State.Stable, h.State.Canary} {
			if rev == "" {
				continue
			}
			routed := rev == h.State.Canary && !h.State.Route.IsZero() && (prev.Route != h.State.Route || prev.Canary != rev)
			if h.State.Share(rev) <= prev.Share(rev) && !routed {
				continue
			}
			if got, need := h.ReadyBefore.ReadyCount(rev), h.State.Needs(rev); got < need {
				errs = append(errs, fmt.Errorf("apply %d (%s): traffic moved onto %s with %d of %d instances ready", i, h.State, rev, got, need))
			}
		}
		prev = h.State
	}
	return errors.Join(errs...)
}

// CheckTrafficBeforeCapacity verifies the invariant that, on the way down,
// traffic leaves a revision before its capacity does: no applied State
// lowers both a revision's share of traffic and its desired instance
// count at once while the revision keeps some traffic (on a weighted
// router the remaining share would land on fewer instances before the
// router caught up). A revision that loses all its traffic may lose its
// instances in the same State (a blue-green switch back). prev is the
// State before the first entry. It returns one error naming every
// violation, or nil.
func CheckTrafficBeforeCapacity(prev strategy.State, history []Applied) error {
	var errs []error
	for i, h := range history {
		for _, rev := range []strategy.Revision{prev.Stable, prev.Canary} {
			if rev == "" {
				continue
			}
			if h.State.Share(rev) > 0 && h.State.Share(rev) < prev.Share(rev) && h.State.Desired(rev) < prev.Desired(rev) {
				errs = append(errs, fmt.Errorf("apply %d (%s): %s lost traffic (%d%% to %d%%) and capacity (%d to %d) at once",
					i, h.State, rev, prev.Share(rev), h.State.Share(rev), prev.Desired(rev), h.State.Desired(rev)))
			}
		}
		prev = h.State
	}
	return errors.Join(errs...)
}

// CheckTraffic is the former name of [CheckCapacityBeforeTraffic].
//
// Deprecated: use CheckCapacityBeforeTraffic.
func CheckTraffic(prev strategy.State, history []Applied) error {
	return CheckCapacityBeforeTraffic(prev, history)
}

// CheckTrafficLeavesFirst is the former name of [CheckTrafficBeforeCapacity].
//
// Deprecated: use CheckTrafficBeforeCapacity.
func CheckTrafficLeavesFirst(prev strategy.State, history []Applied) error {
	return CheckTrafficBeforeCapacity(prev, history)
}

package rolling_test

import (
	"fmt"
	"testing"

	"pgregory.net/rapid"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
)

// model replays States the way the executor applies them and tracks which
// instances are available:
//
//   - an Apply that scales a revision down removes its instances that are
//     not ready first (as Kubernetes and strategytest.Target do);
//   - an Apply that scales a revision up adds instances that are not
//     available;
//   - a wait step, or an Apply that raises a revision's share of traffic
//     (the executor waits for that revision's capacity before it moves
//     traffic), makes the waited-for instances available;
//   - an instance is available when it is ready and its revision receives
//     traffic.
type model struct {
	n, surge, unavail int
	cur               strategy.State
	ready             map[strategy.Revision]int
}

func newModel(n, surge, unavail int, start strategy.State) *model {
	m := &model{n: n, surge: surge, unavail: unavail, cur: start, ready: map[strategy.Revision]int{}}
	for _, r := range []strategy.Revision{start.Stable, start.Canary} {
		if r != "" {
			m.ready[r] = start.Desired(r)
		}
	}
	return m
}

func (m *model) clone() *model {
	c := *m
	c.ready = map[strategy.Revision]int{}
	for k, v := range m.ready {
		c.ready[k] = v
	}
	return &c
}

func (m *model) available(weights strategy.State) int {
	a := 0
	for _, r := range []strategy.Revision{m.cur.Stable, m.cur.Canary} {
		if r != "" && weights.Share(r) > 0 {
			a += min(m.ready[r], m.cur.Desired(r))
		}
	}
	return a
}

func (m *model) check(where string) error {
	if m.n == 0 {
		return nil
	}
	if t := m.cur.Replicas.Total(); t > m.n+m.surge {
		return fmt.Errorf("%s: %s runs %d instances, more than N+surge = %d", where, m.cur, t, m.n+m.surge)
	}
	return nil
}

// apply replays one State; it returns an error naming the first bound the
// State breaks.
func (m *model) apply(s strategy.State, where string) error {
	prev := m.cur
	for r := range m.ready {
		if s.Stable != r && s.Canary != r {
			delete(m.ready, r)
		}
	}
	for _, r := range []strategy.Revision{s.Stable, s.Canary} {
		if r != "" {
			m.ready[r] = min(m.ready[r], s.Desired(r))
		}
	}
	m.cur = s
	if err := m.check(where); err != nil {
		return err
	}
	// Capacity first: the new replicas under the old traffic.
	if m.n > 0 {
		if a, need := m.available(prev), m.n-m.unavail; a < need {
			return fmt.Errorf("%s: %d available instances while %s is applied, fewer than N-unavailable = %d", where, a, s, need)
		}
	}
	for _, r := range []strategy.Revision{s.Stable, s.Canary} {
		if r == "" || s.Share(r) <= prev.Share(r) {
			continue
		}
		// The executor waits for r's capacity before moving traffic; if
		// it is not there, it first adds it to the previous State (make
		// before break), which must keep within the surge too.
		if have := prev.Desired(r); have < s.Desired(r) && m.n > 0 {
			if t := prev.Replicas.Total() + s.Desired(r) - have; t > m.n+m.surge {
				return fmt.Errorf("%s: moving traffic onto %s makes the executor add its capacity first: %d instances, more than N+surge = %d", where, r, t, m.n+m.surge)
			}
		}
		m.ready[r] = s.Desired(r) // the executor waited for it
	}
	if m.n > 0 {
		if a, need := m.available(s), m.n-m.unavail; a < need {
			return fmt.Errorf("%s: %d available instances in %s, fewer than N-unavailable = %d", where, a, s, need)
		}
	}
	return nil
}

func (m *model) wait(where string) error {
	for _, r := range []strategy.Revision{m.cur.Stable, m.cur.Canary} {
		if r != "" && m.cur.Share(r) > 0 && m.cur.Desired(r) == 0 && m.n > 0 {
			return fmt.Errorf("%s: %s receives traffic with no instance: the wait can never end", where, r)
		}
	}
	for _, r := range []strategy.Revision{m.cur.Stable, m.cur.Canary} {
		if r != "" {
			m.ready[r] = m.cur.Desired(r)
		}
	}
	return nil
}

// rollback replays a rollback path: the executor waits for the instances
// each State adds before it applies the next.
func (m *model) rollback(path []strategy.State, where string) error {
	for i, s := range path {
		prev := m.cur
		if err := m.apply(s, fmt.Sprintf("%s, state %d", where, i)); err != nil {
			return err
		}
		for _, r := range []strategy.Revision{s.Stable, s.Canary} {
			if r != "" && s.Desired(r) > prev.Desired(r) {
				m.ready[r] = s.Desired(r)
			}
		}
	}
	return nil
}

// replay runs the plan through the model and, from every point of it, the
// plan's rollback. It returns the first violation.
func replay(p strategy.Plan, n, surge, unavail int) error {
	live := strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: n}}
	m := newModel(n, surge, unavail, live)
	rollbackFrom := func(m *model, at string) error {
		rb := m.clone()
		path := p.Rollback(rb.cur)
		if len(path) == 0 || path[len(path)-1] != live {
			return fmt.Errorf("rollback from %s (%s) ends on %v, want %v", rb.cur, at, path, live)
		}
		return rb.rollback(path, fmt.Sprintf("rollback from %s (%s)", m.cur, at))
	}
	for i, s := range p.Steps {
		where := fmt.Sprintf("step %d (%s)", i, s)
		switch s.Kind {
		case strategy.StepApply:
			if err := m.apply(s.State, where); err != nil {
				return err
			}
		case strategy.StepWaitReady:
			if err := m.wait(where); err != nil {
				return err
			}
		}
		if err := rollbackFrom(m, where); err != nil {
			return err
		}
	}
	if want := (strategy.State{Stable: "v2", Replicas: strategy.Replicas{Stable: n}}); m.cur != want {
		return fmt.Errorf("plan ends on %s, want %s", m.cur, want)
	}
	return nil
}

func intOrPercent(t *rapid.T, label string) strategy.IntOrPercent {
	if rapid.Bool().Draw(t, label+" is percent") {
		return strategy.Percent(rapid.IntRange(0, 100).Draw(t, label+"%"))
	}
	return strategy.Int(rapid.IntRange(0, 12).Draw(t, label))
}

func TestPropertyBounds(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cfg := rolling.Config{
			Replicas:       rapid.IntRange(0, 200).Draw(t, "N"),
			MaxSurge:       new(intOrPercent(t, "surge")),
			MaxUnavailable: new(intOrPercent(t, "unavailable")),
		}
		if cfg.Replicas > 1 && rapid.Bool().Draw(t, "partitioned") {
			cfg.Partition = rapid.IntRange(1, cfg.Replicas-1).Draw(t, "partition")
		}
		if cfg.Validate() != nil {
			// Both bounds zero, which Validate rejects: let one instance be
			// unavailable instead of discarding the case.
			cfg.MaxUnavailable = new(strategy.Int(1))
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		p, err := cfg.Plan("v1", "v2")
		if err != nil {
			t.Fatal(err)
		}
		surge, unavail := cfg.Bounds()
		if err := replay(p, cfg.Replicas, surge, unavail); err != nil {
			t.Fatalf("N=%d surge=%d unavailable=%d: %v", cfg.Replicas, surge, unavail, err)
		}
		// The rollback from the final State too.
		m := newModel(cfg.Replicas, surge, unavail, p.Final)
		if err := m.rollback(p.Rollback(p.Final), "rollback from final"); err != nil {
			t.Fatal(err)
		}
	})
}

// A large fleet moved one instance at a time keeps both bounds on the way
// back too, from every State of the plan.
func TestLargeFleetRollbackBounds(t *testing.T) {
	cfg := rolling.Config{Replicas: 1000, MaxSurge: new(strategy.Int(1)), MaxUnavailable: new(strategy.Int(0))}
	p, err := cfg.Plan("v1", "v2")
	if err != nil {
		t.Fatal(err)
	}
	// Replaying a rollback from each of the ~4,000 States is quadratic;
	// sample every 97th step and the last ones.
	m := newModel(1000, 1, 0, strategy.State{Stable: "v1", Replicas: strategy.Replicas{Stable: 1000}})
	for i, s := range p.Steps {
		switch s.Kind {
		case strategy.StepApply:
			if err := m.apply(s.State, fmt.Sprintf("step %d", i)); err != nil {
				t.Fatal(err)
			}
		case strategy.StepWaitReady:
			if err := m.wait(fmt.Sprintf("step %d", i)); err != nil {
				t.Fatal(err)
			}
		}
		if i%97 == 0 || i > len(p.Steps)-4 {
			if err := m.clone().rollback(p.Rollback(m.cur), fmt.Sprintf("rollback from step %d", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

package rolling_test

import (
	"errors"

	"go.uber.org/goleak"

	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/glidepath/glidepath/rolling"
	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// seq renders a plan compactly: "o/n" for a State that scales, "w%" for one
// that only moves traffic, "|" for a wait, "P" for the partition pause and
// "final" for the final State.
func seq(p strategy.Plan) string {
	var out []string
	var prev strategy.State
	for _, s := range p.Steps {
		switch s.Kind {
		case strategy.StepApply:
			switch {
			case s.State == p.Final:
				out = append(out, "final")
			case s.State.Replicas == prev.Replicas && prev.Canary != "":
				out = append(out, fmt.Sprintf("%d%%", s.State.Weight))
			default:
				out = append(out, fmt.Sprintf("%d/%d", s.State.Replicas.Stable, s.State.Replicas.Canary))
			}
			prev = s.State
		case strategy.StepWaitReady:
			out = append(out, "|")
		case strategy.StepPause:
			if s.Name == rolling.StepPartition {
				out = append(out, "P")
			}
		}
	}
	return strings.Join(out, " ")
}

var (
	i   = strategy.Int
	pct = strategy.Percent
)

func TestBounds(t *testing.T) {
	tests := []struct {
		n            int
		surge, unav  *strategy.IntOrPercent
		wantS, wantU int
	}{
		// Defaults: 25% each; surge rounds up, unavailable down.
		{n: 0, wantS: 0, wantU: 0}, // Kubernetes: 0 for 0 replicas
		{n: 1, wantS: 1, wantU: 0},
		{n: 3, wantS: 1, wantU: 0},
		{n: 4, wantS: 1, wantU: 1},
		{n: 10, wantS: 3, wantU: 2},
		{n: 100, wantS: 25, wantU: 25},
		// int, int
		{n: 10, surge: new(i(2)), unav: new(i(0)), wantS: 2, wantU: 0},
		{n: 10, surge: new(i(0)), unav: new(i(3)), wantS: 0, wantU: 3},
		{n: 1, surge: new(i(5)), unav: new(i(5)), wantS: 5, wantU: 1}, // unavailable capped at N
		// int, percent
		{n: 10, surge: new(i(1)), unav: new(pct(15)), wantS: 1, wantU: 1},
		{n: 3, surge: new(i(0)), unav: new(pct(50)), wantS: 0, wantU: 1},
		// percent, int
		{n: 10, surge: new(pct(15)), unav: new(i(0)), wantS: 2, wantU: 0},
		{n: 1, surge: new(pct(1)), unav: new(i(0)), wantS: 1, wantU: 0},
		// percent, percent
		{n: 3, surge: new(pct(10)), unav: new(pct(10)), wantS: 1, wantU: 0},
		{n: 7, surge: new(pct(0)), unav: new(pct(10)), wantS: 0, wantU: 1}, // both resolve to 0: one may be unavailable
		{n: 5, surge: new(pct(0)), unav: new(pct(19)), wantS: 0, wantU: 1},
		{n: 200, surge: new(pct(100)), unav: new(pct(100)), wantS: 200, wantU: 200},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("N=%d surge=%s unavailable=%s", tt.n, tt.surge, tt.unav), func(t *testing.T) {
			c := rolling.Config{Replicas: tt.n, MaxSurge: tt.surge, MaxUnavailable: tt.unav}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			s, u := c.Bounds()
			if s != tt.wantS || u != tt.wantU {
				t.Errorf("Bounds() = %d, %d; want %d, %d", s, u, tt.wantS, tt.wantU)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	bad := rolling.Config{
		Replicas:       3,
		MaxSurge:       new(strategy.IntOrPercent{Str: "25"}),
		MaxUnavailable: new(i(-1)),
		MinReady:       -1,
		Partition:      3,
		Analyzers:      []strategy.Analyzer{nil},
	}
	err := bad.Validate()
	if !errors.Is(err, strategy.ErrInvalidConfig) {
		t.Fatalf("Validate = %v", err)
	}
	for _, want := range []string{`MaxSurge: "25" is not a percentage`, "MaxUnavailable: -1 is negative", "MinReady is negative",
		"Partition (3) must be less than Replicas (3)", "Analyzers: analyzer 0 is nil"} {
		if !strategytest.HasProblem(err, want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	tests := []struct {
		name string
		cfg  rolling.Config
		want string // "" for valid
	}{
		{"zero value", rolling.Config{}, ""},
		{"over 100%", rolling.Config{Replicas: 4, MaxUnavailable: new(pct(120))}, `MaxUnavailable: "120%" is over 100%`},
		{"surge over 100%", rolling.Config{Replicas: 4, MaxSurge: new(pct(150)), MaxUnavailable: new(i(1))}, `MaxSurge: "150%" is over 100%`},
		{"percent sign missing in unavailable", rolling.Config{Replicas: 4, MaxSurge: new(i(1)), MaxUnavailable: new(strategy.IntOrPercent{Str: "25"})},
			`MaxUnavailable: "25" is not a percentage`},
		{"100% unavailable", rolling.Config{Replicas: 4, MaxSurge: new(i(0)), MaxUnavailable: new(pct(100))}, ""},
		{"100% surge", rolling.Config{Replicas: 4, MaxSurge: new(pct(100)), MaxUnavailable: new(i(0))}, ""},
		{"bounds beyond N", rolling.Config{Replicas: 10, MaxSurge: new(i(math.MaxInt)), MaxUnavailable: new(i(math.MaxInt))}, ""},
		{"too many replicas", rolling.Config{Replicas: rolling.MaxReplicas + 1}, "Replicas (16777217) is more than 16777216"},
		{"plan too large", rolling.Config{Replicas: 2_000_000, MaxSurge: new(i(1)), MaxUnavailable: new(i(0))},
			"the plan would take more than 10000 steps (2000000 instances, at most 1 moving at a time): raise MaxSurge or MaxUnavailable"},
		{"negative percent", rolling.Config{Replicas: 4, MaxSurge: new(pct(-5))}, `MaxSurge: "-5%" is negative`},
		{"fractional percent", rolling.Config{Replicas: 4, MaxSurge: new(strategy.IntOrPercent{Str: "2.5%"})}, "not a whole-number percentage"},
		{"both zero percent", rolling.Config{Replicas: 4, MaxSurge: new(pct(0)), MaxUnavailable: new(pct(0))}, "are both zero"},
		{"zero int and zero percent", rolling.Config{Replicas: 4, MaxSurge: new(i(0)), MaxUnavailable: new(pct(0))}, "are both zero"},
		{"negative replicas", rolling.Config{Replicas: -2}, "Replicas is negative (-2)"},
		{"negative partition", rolling.Config{Replicas: 4, Partition: -1}, "Partition is negative"},
		{"negative deadline", rolling.Config{ProgressDeadline: -1}, "ProgressDeadline is negative"},
		{"only surge", rolling.Config{Replicas: 4, MaxSurge: new(i(1))}, ""},
		{"partition", rolling.Config{Replicas: 4, Partition: 3}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("valid config rejected: %v", err)
				}
				return
			}
			if !errors.Is(err, strategy.ErrInvalidConfig) || !strategytest.HasProblem(err, tt.want) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.want)
			}
			if _, perr := tt.cfg.Plan("v1", "v2"); !errors.Is(perr, strategy.ErrInvalidConfig) {
				t.Errorf("Plan = %v, want ErrInvalidConfig", perr)
			}
		})
	}
}

func TestSequence(t *testing.T) {
	tests := []struct {
		n           int
		surge, unav *strategy.IntOrPercent
		partition   int
		want        string
	}{
		{n: 0, want: "0/0 | final"}, // no instances: one batch
		// N=1 with every shape of bounds.
		{n: 1, want: "1/1 | 50% 0/1 final"},                               // defaults: surge 1, unavailable 0
		{n: 1, surge: new(i(0)), unav: new(i(1)), want: "0/1 100% final"}, // the traffic step waits for the new instance
		{n: 1, surge: new(i(1)), unav: new(i(1)), want: "1/1 0/1 100% final"},
		{n: 1, surge: new(pct(100)), unav: new(pct(0)), want: "1/1 | 50% 0/1 final"},
		{n: 1, surge: new(i(0)), unav: new(pct(100)), want: "0/1 100% final"},
		{n: 1, surge: new(pct(0)), unav: new(i(1)), want: "0/1 100% final"},
		// Small N, every combination of int and percent.
		{n: 3, want: "3/1 | 25% 2/1 2/2 | 50% 1/2 1/3 | 75% 0/3 final"}, // 25%/25% of 3: surge 1, unavailable 0
		{n: 4, want: "4/1 3/1 3/2 | 40% 1/2 1/4 | 80% 0/4 final"},
		{n: 4, surge: new(i(1)), unav: new(i(0)), want: "4/1 | 20% 3/1 3/2 | 40% 2/2 2/3 | 60% 1/3 1/4 | 80% 0/4 final"},
		{n: 4, surge: new(i(0)), unav: new(i(2)), want: "2/0 2/2 | 50% 0/2 0/4 | final"},
		{n: 4, surge: new(i(2)), unav: new(pct(50)), want: "4/2 2/2 2/4 | 67% 0/4 final"},
		{n: 5, surge: new(pct(20)), unav: new(i(1)), want: "5/1 4/1 4/2 | 33% 2/2 2/4 | 67% 0/4 0/5 | final"},
		{n: 5, surge: new(pct(50)), unav: new(pct(50)), want: "5/3 3/3 3/5 | 63% 0/5 final"},
		// Large N.
		{n: 100, want: "100/25 75/25 75/50 | 40% 25/50 25/100 | 80% 0/100 final"},
		{n: 20, surge: new(pct(10)), unav: new(i(0)), want: "20/2 | 9% 18/2 18/4 | 18% 16/4 16/6 | 27% 14/6 14/8 | 36% 12/8 12/10 | 45% 10/10 10/12 | 55% 8/12 8/14 | 64% 6/14 6/16 | 73% 4/16 4/18 | 82% 2/18 2/20 | 91% 0/20 final"},
		{n: 50, surge: new(i(0)), unav: new(pct(30)), want: "35/0 35/15 | 30% 20/15 20/30 | 60% 5/30 5/45 | 90% 0/45 0/50 | final"},
		// Partition: stop at 2 of 5 and wait for Promote.
		{n: 5, surge: new(i(1)), unav: new(i(1)), partition: 2, want: "5/1 4/1 4/2 | 33% 3/2 40% P 3/3 2/3 2/4 | 67% 0/4 0/5 | final"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("N=%d surge=%s unavailable=%s partition=%d", tt.n, tt.surge, tt.unav, tt.partition), func(t *testing.T) {
			c := rolling.Config{Replicas: tt.n, MaxSurge: tt.surge, MaxUnavailable: tt.unav, Partition: tt.partition}
			p, err := c.Plan("v1", "v2")
			if err != nil {
				t.Fatal(err)
			}
			if got := seq(p); got != tt.want {
				t.Errorf("sequence\n got %s\nwant %s", got, tt.want)
			}
			if err := p.Validate(nil); err != nil {
				t.Errorf("plan problems: %v", err)
			}
		})
	}
}

// Each bound defaults on its own, as in a Kubernetes Deployment: an explicit
// maxSurge of 0 keeps maxUnavailable at its 25% default, and the reverse.
func TestBoundsDefaultPerField(t *testing.T) {
	for _, tt := range []struct {
		cfg          rolling.Config
		surge, unava int
	}{
		{rolling.Config{Replicas: 8}, 2, 2},
		{rolling.Config{Replicas: 8, MaxSurge: new(i(0))}, 0, 2},
		{rolling.Config{Replicas: 8, MaxUnavailable: new(i(0))}, 2, 0},
		{rolling.Config{Replicas: 8, MaxSurge: new(i(3))}, 3, 2},
		{rolling.Config{Replicas: 8, MaxUnavailable: new(pct(50))}, 2, 4},
	} {
		if err := tt.cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		if s, u := tt.cfg.Bounds(); s != tt.surge || u != tt.unava {
			t.Errorf("%+v: bounds %d/%d, want %d/%d", tt.cfg, s, u, tt.surge, tt.unava)
		}
	}
}

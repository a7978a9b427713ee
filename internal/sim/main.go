package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	cfg := config{}
	flag.IntVar(&cfg.aaRuns, "runs", 20000, "simulated releases per A/A cell, split evenly over the seeds")
	flag.IntVar(&cfg.regRuns, "reg-runs", 2000, "simulated releases per regression cell")
	flag.IntVar(&cfg.seeds, "seeds", 4, "independent seeds (random streams) per cell")
	flag.Uint64Var(&cfg.seed, "seed", 1, "first seed; the same seeds print the same table")
	flag.IntVar(&cfg.workers, "workers", runtime.GOMAXPROCS(0), "parallel workers; results do not depend on it")
	flag.IntVar(&cfg.minutes, "minutes", 30, "release duration in minutes (one reading per minute)")
	flag.StringVar(&cfg.only, "only", "", "run only the cells whose name contains this text (for example \"clump\" or \"latency\")")
	flag.IntVar(&cfg.history, "history", historyMinutes, "minutes of the baseline's past the sources can read; 0: sources that cannot read the past (CountSource and LatencySource only)")
	flag.BoolVar(&useRecorder, "recorder", false, "with -history 0: wrap the sources in a judge.Recorder that read them every minute of the 20 before the release")
	quick := flag.Bool("quick", false, "400 A/A and 200 regression runs per cell, for a fast look")
	flag.Parse()
	if *quick {
		cfg.aaRuns, cfg.regRuns = 400, 200
	}
	if cfg.aaRuns < 1 || cfg.regRuns < 1 || cfg.seeds < 1 || cfg.workers < 1 || cfg.minutes < 1 || cfg.history < 0 || cfg.history > historyMinutes {
		fmt.Fprintf(os.Stderr, "sim: -runs, -reg-runs, -seeds, -workers and -minutes must be positive, -history between 0 and %d\n", historyMinutes)
		os.Exit(2)
	}
	start := time.Now()
	cells := run(cfg)
	if len(cells) == 0 {
		fmt.Fprintf(os.Stderr, "sim: no cell matches -only %q\n", cfg.only)
		os.Exit(2)
	}
	report(os.Stdout, cells, cfg.history)
	fmt.Fprintf(os.Stdout, "\n%d A/A and %d regression runs per cell over %d seeds from %d, %d workers, history %d min, %v\n",
		cfg.aaRuns, cfg.regRuns, cfg.seeds, cfg.seed, cfg.workers, cfg.history, time.Since(start).Round(time.Second))
}

type config struct {
	aaRuns, regRuns, seeds int
	workers, minutes       int
	history                int // minutes of the baseline's past the sources can read; 0: no history at all
	seed                   uint64
	only                   string
}

// cell holds the results of one scenario.
type cell struct {
	sc      scenario
	runs    int
	results [nJudges][]result
}

// name of the scenario's row.
func (s scenario) label() string { return fmt.Sprintf("%s, %g rps", s.name, s.rps) }

// scenarios lists every cell of the table.
func scenarios() []scenario {
	var out []scenario
	errs := func(name string, ratio float64, rps ...float64) scenario {
		return scenario{name: name, ratio: ratio, base: 0.005, clump: 1, weight: 0.1, rps: rps[0]}
	}
	add := func(s scenario, rpss ...float64) {
		for _, r := range rpss {
			s.rps = r
			out = append(out, s)
		}
	}
	all := []float64{1, 10, 100}
	// A/A: healthy canaries.
	add(errs("errors A/A independent", 1, 0), all...)
	for _, c := range []float64{3, 10} {
		s := errs(fmt.Sprintf("errors A/A clumps of mean %g", c), 1, 0)
		s.clump = c
		add(s, all...)
	}
	s := errs("errors A/A bursts in both", 1, 0)
	s.bursts = true
	add(s, 10, 100)
	s = errs("errors A/A drifting baseline", 1, 0)
	s.drift = true
	add(s, 10, 100)
	for _, p := range []float64{0.0005, 0.0001} {
		s = errs(fmt.Sprintf("errors A/A base %g%%", 100*p), 1, 0)
		s.base = p
		add(s, 10, 100)
	}
	for _, w := range []float64{0.01, 0.5} {
		s = errs(fmt.Sprintf("errors A/A weight %g%%", 100*w), 1, 0)
		s.weight = w
		add(s, 10)
	}
	// Regressions.
	for _, r := range []float64{1.5, 2, 3} {
		add(errs(fmt.Sprintf("errors %gx independent", r), r, 0), all...)
	}
	s = errs("errors 2x clumps of mean 3", 2, 0)
	s.clump = 3
	add(s, 10, 100)
	s = errs("errors 2x bursts in both", 2, 0)
	s.bursts = true
	add(s, 10, 100)
	s = errs("errors 2x drifting baseline", 2, 0)
	s.drift = true
	add(s, 10, 100)
	s = errs("errors 2x base 0.05%", 2, 0)
	s.base = 0.0005
	add(s, 10, 100)
	for _, w := range []float64{0.01, 0.5} {
		s = errs(fmt.Sprintf("errors 2x weight %g%%", 100*w), 2, 0)
		s.weight = w
		add(s, 10)
	}
	// Latency.
	for _, f := range []float64{1, 1.2} {
		for _, slow := range []bool{false, true} {
			name := "latency A/A"
			if f != 1 {
				name = "latency +20%"
			}
			if slow {
				name += " time-correlated"
			} else {
				name += " independent"
			}
			add(scenario{name: name, latency: f, weight: 0.1, slow: slow}, all...)
		}
	}
	return out
}

// run simulates every selected cell on a pool of workers. Each run draws
// from its own stream (seed, cell, run), so the table depends only on the
// seeds and run counts, not on the scheduling.
func run(cfg config) []*cell {
	var cells []*cell
	for _, sc := range scenarios() {
		if cfg.only != "" && !strings.Contains(sc.label(), cfg.only) {
			continue
		}
		runs := cfg.regRuns
		if sc.isAA() {
			runs = cfg.aaRuns
		}
		cells = append(cells, &cell{sc: sc, runs: runs})
	}
	type job struct{ c, lo, hi int }
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range cfg.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for jb := range jobs {
				c := cells[jb.c]
				var local [nJudges][]result
				for r := jb.lo; r < jb.hi; r++ {
					perSeed := (c.runs + cfg.seeds - 1) / cfg.seeds
					seed := cfg.seed + uint64(r/perSeed)
					rng := rand.New(rand.NewPCG(seed, uint64(jb.c)<<32|uint64(r%perSeed)))
					out := simulate(rng, c.sc, cfg.minutes, cfg.history)
					for j := range out {
						local[j] = append(local[j], out[j])
					}
				}
				mu.Lock()
				for j := range local {
					c.results[j] = append(c.results[j], local[j]...)
				}
				mu.Unlock()
			}
		}()
	}
	const chunk = 50
	for i, c := range cells {
		for lo := 0; lo < c.runs; lo += chunk {
			jobs <- job{i, lo, min(lo+chunk, c.runs)}
		}
	}
	close(jobs)
	wg.Wait()
	return cells
}

// summary of one judge in one cell.
type summary struct {
	runs                      int
	rolled, passed, undecided int
	rollMinutes, passMinutes  []int
}

func summarize(rs []result) summary {
	s := summary{runs: len(rs)}
	for _, r := range rs {
		switch r.outcome {
		case rolledBack:
			s.rolled++
			s.rollMinutes = append(s.rollMinutes, r.minute)
		case promoted:
			s.passed++
			s.passMinutes = append(s.passMinutes, r.minute)
		default:
			s.undecided++
		}
	}
	return s
}

// wilson is the 95% Wilson score interval of k successes in n.
func wilson(k, n int) (lo, hi float64) {
	const z = 1.959963984540054
	p, fn := float64(k)/float64(n), float64(n)
	d := 1 + z*z/fn
	c := (p + z*z/(2*fn)) / d
	h := z * math.Sqrt(p*(1-p)/fn+z*z/(4*fn*fn)) / d
	return math.Max(0, c-h), math.Min(1, c+h)
}

func report(w io.Writer, cells []*cell, history int) {
	fmt.Fprintln(w, "Simulated releases through the judges' production path (Analyze over cumulative counters, on a virtual clock),")
	fmt.Fprintln(w, "one reading per minute, 30 minutes. Unless a row says otherwise: baseline failure rate 0.5%, canary weight 10%.")
	fmt.Fprintln(w, "Sequential judges at their defaults. Inline: Pass, Fail, or Inconclusive (a pause) after 30 minutes;")
	fmt.Fprintln(w, "background: Fail at once, else its last word when the release ends. Threshold judges promote at the end.")
	if history == 0 {
		if useRecorder {
			fmt.Fprintln(w, "Sources cannot read the past, but each is wrapped in a judge.Recorder that read it every minute of the 20 before the release.")
		} else {
			fmt.Fprintln(w, "Sources cannot read the past (no history): the judges learn how bursty failures are from the release alone.")
		}
	} else {
		fmt.Fprintf(w, "Sources can read %d minutes of the baseline's past, as the Prometheus sources can.\n", history)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A/A (healthy canary): false rollbacks with 95% Wilson interval; undecided = Inconclusive, counted as a pause.")
	fmt.Fprintf(w, "%-44s %-22s %8s %-17s %8s %9s\n", "scenario", "judge", "rollback", "95% CI", "promoted", "undecided")
	for _, c := range cells {
		if !c.sc.isAA() {
			continue
		}
		for j, name := range judgeNames {
			s := summarize(c.results[j])
			lo, hi := wilson(s.rolled, s.runs)
			fmt.Fprintf(w, "%-44s %-22s %7.2f%% [%5.2f%%, %5.2f%%] %7.1f%% %8.1f%%\n", c.sc.label(), name,
				pct(s.rolled, s.runs), 100*lo, 100*hi, pct(s.passed, s.runs), pct(s.undecided, s.runs))
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Regressions: share detected (rolled back) and minutes to detect (median, p90), Wald's SPRT floor (mean minutes")
	fmt.Fprintln(w, "of the SPRT that knows the baseline, independent failures; at least one reading) and the median's ratio to it.")
	fmt.Fprintf(w, "%-44s %-22s %8s %6s %6s %7s %7s\n", "scenario", "judge", "detected", "median", "p90", "floor", "ratio")
	for _, c := range cells {
		if c.sc.isAA() {
			continue
		}
		floor := math.NaN()
		switch {
		case c.sc.latency != 0:
			floor = waldLatencyMinutes(c.sc.latency, c.sc.rps, 0.01, 0.05)
		case c.sc.clump <= 1 && !c.sc.bursts && !c.sc.drift:
			floor = waldMinutes(c.sc.base, c.sc.ratio, c.sc.rps, 0.01, 0.05)
		}
		for j, name := range judgeNames {
			s := summarize(c.results[j])
			med := percentile(s.rollMinutes, 0.5)
			fl, ratio := "-", "-"
			if !math.IsNaN(floor) {
				fl = fmt.Sprintf("%.2f", floor)
				if !math.IsNaN(med) {
					ratio = fmt.Sprintf("%.2f", med/math.Max(1, floor))
				}
			}
			fmt.Fprintf(w, "%-44s %-22s %7.1f%% %6s %6s %7s %7s\n", c.sc.label(), name, pct(s.rolled, s.runs),
				mins(med), mins(percentile(s.rollMinutes, 0.9)), fl, ratio)
		}
	}
	goals(w, cells, history)
}

func pct(k, n int) float64 { return 100 * float64(k) / float64(n) }

func mins(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// percentile of ints (nearest rank); NaN when empty.
func percentile(s []int, p float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	s = slices.Clone(s)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return float64(s[max(i, 0)])
}

// goals checks the sequential judges' targets. The speed goals assume
// a source that reads the baseline's history; without one the medians are
// reported only.
func goals(w io.Writer, cells []*cell, history int) {
	fmt.Fprintln(w, "\nGoals:")
	worst, worstCell := 0.0, ""
	for _, c := range cells {
		if !c.sc.isAA() {
			continue
		}
		for _, j := range []int{jInline, jBackground} {
			s := summarize(c.results[j])
			if r := pct(s.rolled, s.runs); r >= worst {
				worst, worstCell = r, c.sc.label()+", "+judgeNames[j]
			}
		}
	}
	if worstCell != "" {
		ok := "met"
		if worst > 1 {
			ok = "NOT met"
		}
		fmt.Fprintf(w, "  A/A false rollbacks <= 1%% in every A/A cell, inline and background: %s (worst %.2f%%: %s)\n", ok, worst, worstCell)
	}
	for _, g := range []struct {
		rps, max float64
	}{{10, 7}, {100, 1}} {
		for _, c := range cells {
			if c.sc.name != "errors 2x independent" || c.sc.rps != g.rps {
				continue
			}
			s := summarize(c.results[jInline])
			med := percentile(s.rollMinutes, 0.5)
			ok := "met"
			if !(med <= g.max) || s.rolled*2 < s.runs {
				ok = "NOT met"
			}
			fmt.Fprintf(w, "  2x independent at %g rps detected with median <= %g min: %s (median %s min, %.1f%% detected)\n", g.rps, g.max, ok, mins(med), pct(s.rolled, s.runs))
		}
	}
}

package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
)

func main() {
	runs := flag.Int("runs", 2000, "simulated releases per scenario and traffic level")
	quick := flag.Bool("quick", false, "200 runs per cell (overrides -runs)")
	seed := flag.Uint64("seed", 1, "random seed; the same seed prints the same table")
	workers := flag.Int("workers", runtime.GOMAXPROCS(0), "parallel workers")
	minutes := flag.Int("minutes", 30, "maximum release duration in minutes (one evaluation per minute)")
	flag.Parse()
	if *quick {
		*runs = 200
	}
	if *runs < 1 || *workers < 1 || *minutes < 1 {
		fmt.Fprintln(os.Stderr, "sim: -runs, -workers and -minutes must be positive")
		os.Exit(2)
	}
	start := time.Now()
	res := run(config{runs: *runs, seed: *seed, workers: *workers, minutes: *minutes})
	report(os.Stdout, res)
	fmt.Fprintf(os.Stdout, "\n%d runs per cell, seed %d, %d workers, %v\n", *runs, *seed, *workers, time.Since(start).Round(time.Millisecond))
}

type config struct {
	runs, workers, minutes int
	seed                   uint64
}

// cell holds the results of one scenario at one traffic level.
type cell struct {
	sc    scenario
	rps   float64
	times [len5][]int // minutes to rollback of runs that rolled back
	pass  []int       // minutes to the sequential judge's Pass
	runs  int
	na    [len5]bool
}

func run(cfg config) []*cell {
	var cells []*cell
	for _, sc := range scenarios {
		for _, rps := range traffics {
			cells = append(cells, &cell{sc: sc, rps: rps, runs: cfg.runs})
		}
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
				var local [len5][]int
				var pass []int
				var na [len5]bool
				for r := jb.lo; r < jb.hi; r++ {
					// Each run has its own stream: results do not depend
					// on scheduling.
					rng := rand.New(rand.NewPCG(cfg.seed, uint64(jb.c)<<32|uint64(r)))
					out := simulate(rng, c.sc, c.rps, cfg.minutes)
					if out[jSeq].passed > 0 {
						pass = append(pass, out[jSeq].passed)
					}
					for j, o := range out {
						switch {
						case o.rolledBack < 0:
							na[j] = true
						case o.rolledBack > 0:
							local[j] = append(local[j], o.rolledBack)
						}
					}
				}
				mu.Lock()
				c.pass = append(c.pass, pass...)
				for j := range local {
					c.times[j] = append(c.times[j], local[j]...)
					c.na[j] = c.na[j] || na[j]
				}
				mu.Unlock()
			}
		}()
	}
	const chunk = 100
	for i := range cells {
		for lo := 0; lo < cfg.runs; lo += chunk {
			jobs <- job{i, lo, min(lo+chunk, cfg.runs)}
		}
	}
	close(jobs)
	wg.Wait()
	return cells
}

func report(w io.Writer, cells []*cell) {
	fmt.Fprintln(w, "Simulated releases: baseline failure rate 0.5%, canary at 10% weight (baseline serves 9x the canary's requests),")
	fmt.Fprintln(w, "one evaluation per minute, 30-minute maximum. Rate = share of runs rolled back (false rollbacks on A/A rows).")
	fmt.Fprintln(w, "Minutes = median and 90th percentile time to rollback among runs rolled back.")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-13s %-8s %-24s %9s %7s %6s\n", "scenario", "canary", "judge", "rollback", "median", "p90")
	for _, c := range cells {
		for j, name := range judgeNames {
			if c.na[j] {
				continue
			}
			t := c.times[j]
			rate := float64(len(t)) / float64(c.runs)
			fmt.Fprintf(w, "%-13s %-8s %-24s %8.2f%% %7s %6s\n", c.sc.name, fmt.Sprintf("%g rps", c.rps), name, 100*rate,
				mins(percentile(t, 0.5)), mins(percentile(t, 0.9)))
		}
		if !c.sc.isAA() {
			floor := waldMinutes(c.sc.ratio, c.rps, 0.01, 0.05)
			if c.sc.latency != 0 {
				floor = waldLatencyMinutes(c.sc.latency, c.rps, 0.01, 0.05, false)
			}
			// With one evaluation a minute nothing decides before the
			// first whole minute at which the floor has passed.
			evalFloor := math.Max(1, math.Ceil(floor))
			seq := c.times[jSeq]
			var sum float64
			for _, v := range seq {
				sum += float64(v)
			}
			mean := sum / float64(len(seq))
			note := ""
			if len(seq) < c.runs*95/100 {
				note = fmt.Sprintf(", over the %d%% detected", 100*len(seq)/c.runs)
			}
			fmt.Fprintf(w, "%-13s %-8s %-24s %9s %7.2f   (at 1/min: %.0f; sequential mean %.2f min%s = %.2fx)\n", "", "", "Wald SPRT floor (mean)", "", floor,
				evalFloor, mean, note, mean/evalFloor)
		}
		if c.sc.isAA() {
			// On A/A the floor is the time Wald's SPRT of p0 against the
			// 2x the judge is tuned for needs to accept p0 (for latency:
			// no shift against +20%), and the judge's counterpart is its
			// time to Pass.
			floor := waldPassMinutes(2, c.rps, 0.01, 0.05)
			if c.sc.latency != 0 {
				floor = waldLatencyMinutes(1.2, c.rps, 0.01, 0.05, true)
			}
			evalFloor := math.Max(1, math.Ceil(floor))
			var sum float64
			for _, v := range c.pass {
				sum += float64(v)
			}
			seqPass := "never passed"
			if len(c.pass) > 0 {
				mean := sum / float64(len(c.pass))
				seqPass = fmt.Sprintf("sequential passed %.1f%%, mean %.2f min = %.2fx", 100*float64(len(c.pass))/float64(c.runs), mean, mean/evalFloor)
			}
			fmt.Fprintf(w, "%-13s %-8s %-24s %9s %7.2f   (at 1/min: %.0f; %s)\n", "", "", "Wald SPRT to pass (mean)", "", floor, evalFloor, seqPass)
		}
		fmt.Fprintln(w, strings.Repeat("-", 72))
	}
	goals(w, cells)
}

func mins(v float64) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.0f", v)
}

// goals checks the two targets of the sequential judge.
func goals(w io.Writer, cells []*cell) {
	find := func(name string, rps float64) *cell {
		for _, c := range cells {
			if c.sc.name == name && c.rps == rps {
				return c
			}
		}
		return nil
	}
	fmt.Fprintln(w, "\nGoals:")
	for _, rps := range traffics {
		aa, reg := find("errors A/A", rps), find("errors 2x", rps)
		seqFalse := float64(len(aa.times[jSeq])) / float64(aa.runs)
		ok := "met"
		if seqFalse > 0.01 {
			ok = "NOT met"
		}
		fmt.Fprintf(w, "  %g rps: sequential A/A false rollbacks %.2f%% (<= 1%%: %s)", rps, 100*seqFalse, ok)
		seqMed := percentile(reg.times[jSeq], 0.5)
		fmt.Fprintf(w, "; 2x detected %.1f%%, median %s min\n", 100*float64(len(reg.times[jSeq]))/float64(reg.runs), mins(seqMed))
		for _, bound := range []float64{seqFalse, math.Max(seqFalse, 0.01)} {
			best, bestMed := -1, math.Inf(1)
			for _, j := range []int{jFlagger1, jFlagger5, jArgo} {
				fr := float64(len(aa.times[j])) / float64(aa.runs)
				if fr > bound {
					continue
				}
				if m := percentile(reg.times[j], 0.5); len(reg.times[j]) > 0 && m < bestMed {
					best, bestMed = j, m
				}
			}
			if best < 0 {
				fmt.Fprintf(w, "      no threshold judge has A/A false rollbacks <= %.2f%%\n", 100*bound)
				continue
			}
			ok = "met"
			if !(seqMed*2 <= bestMed) {
				ok = "NOT met"
			}
			fmt.Fprintf(w, "      best threshold judge with A/A false rollbacks <= %.2f%%: %s, 2x median %s min (twice as fast: %s)\n",
				100*bound, judgeNames[best], mins(bestMed), ok)
		}
	}
	for _, rps := range traffics {
		aa, reg := find("latency A/A", rps), find("latency +20%", rps)
		seqFalse := float64(len(aa.times[jSeq])) / float64(aa.runs)
		ok := "met"
		if seqFalse > 0.01 {
			ok = "NOT met"
		}
		fmt.Fprintf(w, "  %g rps: sequential latency A/A false rollbacks %.2f%% (<= 1%%: %s); +20%% detected %.1f%%, median %s min\n",
			rps, 100*seqFalse, ok, 100*float64(len(reg.times[jSeq]))/float64(reg.runs), mins(percentile(reg.times[jSeq], 0.5)))
	}
}

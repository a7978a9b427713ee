package strategy_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/glidepath/glidepath/strategy"
	"github.com/glidepath/glidepath/strategy/strategytest"
)

// BenchmarkExecutorStep measures the executor's own cost per step: a plan
// of 100 steps (applies that move traffic both ways, and inline analysis)
// on a fake target whose instances are ready at once, so no time is spent
// waiting. Reported: ns/step and allocs/step.
func BenchmarkExecutorStep(b *testing.B) {
	const steps = 100
	pass := strategytest.Script("pass", strategy.Pass)
	var plan []strategy.Step
	for i := range steps {
		if i%4 == 3 {
			plan = append(plan, strategy.Analyze(pass))
			continue
		}
		plan = append(plan, strategy.Apply(at(10+(i*37)%90, 4)))
	}
	s := planOf(plan...)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	var allocs uint64
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	allocs = ms.Mallocs
	for b.Loop() {
		tgt := strategytest.NewTarget(stable4)
		if _, err := strategy.Run(ctx, release(tgt, s, strategy.Options{})); err != nil {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms)
	perStep := float64(steps + 1) // the plan's steps plus the final apply
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/perStep, "ns/step")
	b.ReportMetric(float64(ms.Mallocs-allocs)/float64(b.N)/perStep, "allocs/step")
}

// BenchmarkInFlightMemory starts 10,000 rollouts at once, each paused
// until promoted after its first step, and reports the memory each one
// holds (heap and goroutine stacks) while in flight, after the garbage
// collector has run a few cycles, as it does in any long-running process.
func BenchmarkInFlightMemory(b *testing.B) {
	const n = 10000
	for b.Loop() {
		ctx := context.Background()
		s := planOf(strategy.Apply(at(10, 1)), strategy.Pause(0), strategy.Apply(at(100, 4)))
		targets := make([]*strategytest.Target, n)
		for i := range targets {
			targets[i] = strategytest.NewTarget(stable4)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		rollouts := make([]*strategy.Rollout, n)
		for i := range rollouts {
			rel := release(targets[i], s, strategy.Options{})
			rel.Name = fmt.Sprintf("r%d", i)
			r, err := strategy.Start(ctx, rel)
			if err != nil {
				b.Fatal(err)
			}
			rollouts[i] = r
		}
		for _, r := range rollouts {
			for r.Status().Phase != strategy.PhasePaused {
				runtime.Gosched()
			}
		}
		// Steady state: a long-running process goes through many GC
		// cycles, each of which halves a goroutine stack that uses less
		// than a quarter of it.
		for range 4 {
			runtime.GC()
		}
		runtime.ReadMemStats(&after)
		used := (after.HeapInuse + after.StackInuse) - (before.HeapInuse + before.StackInuse)
		b.ReportMetric(float64(used)/n, "bytes/rollout")
		b.ReportMetric(float64(after.StackInuse-before.StackInuse)/n, "stack-bytes/rollout")
		for _, r := range rollouts {
			_ = r.Abort()
		}
		for _, r := range rollouts {
			if _, err := r.Wait(ctx); err == nil {
				b.Fatal("aborted rollout reported success")
			}
		}
	}
}

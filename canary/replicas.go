package canary

import (
	"math"

	"github.com/glidepath/glidepath/strategy"
)

// This file holds the instance arithmetic of a canary. It reproduces the
// behaviour Argo Rollouts documents for its canary strategy:
//
//   - Basic canary (no traffic router): traffic follows instances, so a
//     weight is approximated by an instance split. The split is the one
//     closest to the weight among spec or spec+1 instances (the +1 only when
//     max surge allows it), a tie between rounding down and up goes to the
//     canary, and a weight strictly between 0 and 100 never leaves either
//     revision with no instance when there are two or more to share
//     (Argo's approximateWeightedCanaryStableReplicaCounts). The way there
//     is walked one reconcile at a time: scale up within max surge (stable
//     first), then scale down no further than max unavailable allows
//     (Argo's CalculateReplicaCountsForBasicCanary).
//   - Canary behind a traffic router: the canary gets ceil(weight × spec
//     / 100) instances (Argo's trafficWeightToReplicas) and the stable keeps
//     all of them, unless dynamic stable scale sizes the stable from its own
//     share the same way.

// replicaSet is the instance count of one revision: desired (spec) and
// available.
type replicaSet struct {
	spec, avail int
}

// basicInput is one reconcile of a basic canary.
type basicInput struct {
	total       int // desired instances of the whole service
	weight      int // the canary weight being approached
	surge       int // max surge, resolved against total
	unavailable int // max unavailable, resolved against total
	canary      replicaSet
	stable      replicaSet
	older       []replicaSet // other revisions still holding instances
}

// resolveFenceposts resolves max surge and max unavailable against total
// as Argo Rollouts does: surge rounds up, unavailable rounds down, both zero
// become one unavailable, unavailable never exceeds total, and a service of
// no instances may have none unavailable. A surge above total is clamped to
// total, which moves the instances the same way.
func resolveFenceposts(maxSurge, maxUnavailable strategy.IntOrPercent, total int) (surge, unavailable int) {
	surge, unavailable = strategy.SurgeAndUnavailable(maxSurge, maxUnavailable, total)
	if total == 0 {
		unavailable = 0
	}
	// A surge above total changes nothing (neither revision ever runs
	// more than total instances); clamping it keeps total+surge from
	// overflowing.
	surge = min(surge, max(total, 0))
	unavailable = min(unavailable, total)
	return surge, unavailable
}

// approximateSplit returns the canary and stable instance counts whose
// split best approximates weight among total instances, or total+1 when
// surge > 0.
func approximateSplit(total, weight, surge int) (canary, stable int) {
	if total <= 0 {
		return 0, 0
	}
	type option struct{ canary, total int }
	exact := total * weight
	up := (exact + 99) / 100
	down := exact / 100
	tied := exact%100 == 50
	// Either revision may be left with no instance only at weight 0 or
	// 100, or when a single instance cannot surge.
	zeroOK := weight == 0 || weight == 100 || (total == 1 && surge == 0)
	var opts []option
	if up < total || zeroOK {
		opts = append(opts, option{up, total})
	}
	if !tied && (down != 0 || zeroOK) {
		opts = append(opts, option{down, total})
	}
	if surge > 0 {
		opts = append(opts, option{up, total + 1})
		if (total+1)*weight%100 != 50 && (down != 0 || zeroOK) {
			opts = append(opts, option{down, total + 1})
		}
	}
	if len(opts) == 0 {
		return 0, total
	}
	delta := func(o option) float64 {
		return math.Abs(float64(o.canary*100)/float64(o.total) - float64(weight))
	}
	best := opts[0]
	for _, o := range opts[1:] {
		if delta(o) < delta(best) {
			best = o
		}
	}
	return best.canary, best.total - best.canary
}

// basicStep is one reconcile of a basic canary: the instance counts to
// ask for next, given what each revision has and how much of it is
// available.
func basicStep(in basicInput) (canary, stable int) {
	wantCanary, wantStable := approximateSplit(in.total, in.weight, in.surge)
	canary, stable = in.canary.spec, in.stable.spec
	older := 0
	for _, o := range in.older {
		older += o.spec
	}
	ceiling := in.total + in.surge
	room := ceiling - (in.canary.spec + in.stable.spec + older)

	// Scale up, the stable first, within the surge.
	if room > 0 && in.stable.spec < wantStable {
		add := min(room, wantStable-in.stable.spec)
		stable += add
		room -= add
	}
	if room > 0 && in.canary.spec < wantCanary {
		canary += min(room, wantCanary-in.canary.spec)
	}
	if older > 0 {
		// Older revisions give up their instances before either of
		// these two does.
		return canary, stable
	}

	// Scale down within max unavailable. While the canary grows, the
	// stable's own availability is not counted (it is the one being
	// drained), and the other way round while it shrinks.
	floor := in.total - in.unavailable
	growing := wantCanary >= in.canary.spec
	counted := downBase(in.canary, !growing) + downBase(in.stable, growing)
	if counted <= floor {
		return canary, stable
	}
	excess := counted - floor
	if growing {
		stable = drain(in.stable, wantStable, excess, stable)
		stable, canary = keepWithin(in.stable, in.canary, stable, canary, ceiling, floor)
	} else {
		canary = drain(in.canary, wantCanary, excess, canary)
		canary, stable = keepWithin(in.canary, in.stable, canary, stable, ceiling, floor)
	}
	return canary, stable
}

// downBase is how many of rs's instances count towards availability when
// deciding how far to scale down: its spec when that is below what is
// available (the extra ones are going away) or when its availability is
// ignored, otherwise what is available.
func downBase(rs replicaSet, ignoreAvailability bool) int {
	if rs.spec < rs.avail || ignoreAvailability {
		return rs.spec
	}
	return rs.avail
}

// drain lowers the draining revision towards want by at most excess.
func drain(rs replicaSet, want, excess, current int) int {
	if rs.spec > want {
		return max(want, rs.spec-excess)
	}
	return current
}

// keepWithin corrects the counts of the draining revision and the other
// one so that together they stay within the surge ceiling without
// dropping availability below floor.
func keepWithin(drainRS, otherRS replicaSet, drainN, otherN, ceiling, floor int) (int, int) {
	over := max(0, otherN+drainN-ceiling)
	avail := min(drainRS.avail, drainN)
	otherN -= over
	avail += min(otherRS.avail, otherN)
	lost := max(0, otherRS.avail-otherN)
	short := max(0, floor-avail)
	otherN += min(lost, short)
	over = max(0, otherN+drainN-ceiling)
	drainN -= over
	return drainN, otherN
}

// weightToReplicas is ceil(weight × total / 100): the instances a revision
// needs to serve weight percent of the traffic behind a router.
func weightToReplicas(total, weight int) int {
	if total <= 0 || weight <= 0 {
		return 0
	}
	return int((int64(total)*int64(weight) + 99) / 100)
}

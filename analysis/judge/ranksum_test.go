package judge

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// Reference values below were produced by R's wilcox.test (checked with
// R 4.2.2) with its defaults (exact = NULL, correct = TRUE) and
// conf.int = TRUE. The help page's own examples are marked "help".

// R's help page for wilcox.test, two-sample example (Hollander & Wolfe,
// permeability constants): W = 35, p-value = 0.1272 for the "greater"
// alternative and 0.2544 two-sided, exact (no ties, small samples).
var (
	hwX = []float64{0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46}
	hwY = []float64{1.15, 0.88, 0.90, 0.74, 1.21}
	// R's help page depression data (Hollander & Wolfe); y has ties, so the
	// unpaired test uses the normal approximation.
	depX = []float64{1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30}
	depY = []float64{0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29}
)

// Ozone of R's airquality data set in May and August, missing days left
// out.
var (
	ozoneMay = []float64{41, 36, 12, 18, 28, 23, 19, 8, 7, 16, 11, 14, 18, 14, 34, 6, 30, 11, 1, 11, 4, 32, 23, 45, 115, 37}
	ozoneAug = []float64{39, 9, 16, 78, 35, 66, 122, 89, 110, 44, 28, 65, 22, 59, 23, 31, 44, 21, 9, 45, 168, 73, 76, 118, 84, 85}
)

// TestHollanderWolfeLargeSample: the help page's "H&W large sample
// approximation", wilcox.test(x, y, alternative = "greater", exact =
// FALSE, correct = FALSE), prints W = 35, p-value = 0.1103 (R 4.2.2:
// 0.110335680959923).
func TestHollanderWolfeLargeSample(t *testing.T) {
	xs, ys := slices.Sorted(slices.Values(hwX)), slices.Sorted(slices.Values(hwY))
	z := shiftStat{x: xs, y: ys}.z(0, Greater, false)
	near(t, "p-value", pnormUpper(z), 0.110335680959923, 1e-12)
}

type rsCase struct {
	name                string
	x, y                []float64
	alt                 Alternative
	conf                float64
	w, p, est, lo, hi   float64
	exact               bool
	tolP, tolEst, tolCI float64
}

func TestRankSumMatchesR(t *testing.T) {
	inf := math.Inf(1)
	u := []float64{8.747, 10.367, 8.329, 13.191, 10.659, 8.359, 10.975, 11.477, 11.152, 9.389, 13.024, 10.78, 8.758, 5.571, 12.25, 9.91, 9.968, 11.888, 11.642, 11.188, 11.838, 11.564, 10.149, 6.021, 11.24, 9.888, 9.688, 7.058, 9.044, 10.836, 12.717, 9.794, 10.775, 9.892, 7.246, 9.17, 9.211, 9.881, 12.2, 11.526, 9.671, 9.493, 11.394, 11.113, 8.622, 8.585, 10.729, 11.537, 9.775, 11.762, 10.796, 8.776, 10.682, 7.741, 12.866, 13.961, 9.266, 7.912, 11.139, 9.73}
	v := []float64{15.803, 10.922, 12.379, 11.056, 9.513, 11.378, 7.39, 13.931, 11.307, 15.345, 11.951, 9.58, 12.221, 9.132, 8.493, 11.583, 10.113, 11.002, 11.149, 9.821, 9.863, 10.73, 13.356, 7.953, 12.188, 11.666, 13.126, 10.392, 11.74, 11.534, 9.915, 13.416, 13.321, 12.4, 14.174, 12.117, 8.447, 9.853, 8.551, 10.053, 9.759, 11.084, 9.178, 11.316, 9.691, 14.535, 12.433, 12.82, 11.768, 14.364, 9.729, 10.077, 13.865, 9.699, 10.585}
	// R finds the asymptotic estimate and bounds with uniroot (Brent's
	// method, tol = 1e-4); RankSum runs the same algorithm, so they agree
	// to far better than that tolerance.
	const e, r = 1e-12, 1e-9
	cases := []rsCase{
		{"help greater", hwX, hwY, Greater, 0.95, 35, 0.127206127206127, 0.305, -0.08, inf, true, e, e, e},
		{"help two-sided", hwX, hwY, TwoSided, 0.95, 35, 0.254412254412254, 0.305, -0.15, 0.76, true, e, e, e},
		{"help less", hwX, hwY, Less, 0.95, 35, 0.896769896769897, 0.305, -inf, 0.72, true, e, e, e},
		{"help 98%", hwX, hwY, TwoSided, 0.98, 35, 0.254412254412254, 0.305, -0.17, 0.9, true, e, e, e},
		{"depression ties two-sided", depX, depY, TwoSided, 0.95, 58, 0.132919458185319, 0.560056160835873, -0.369977374727254, 1.18297077368792, false, e, r, r},
		{"depression ties greater", depX, depY, Greater, 0.95, 58, 0.0664597290926594, 0.560056160835873, -0.0980193464832005, inf, false, e, r, r},
		{"depression ties less", depX, depY, Less, 0.95, 58, 0.944204400289713, 0.560056160835873, -inf, 1.01002319687315, false, e, r, r},
		{"depression ties 98%", depX, depY, TwoSided, 0.98, 58, 0.132919458185319, 0.560056160835873, -0.559951695263184, 1.23296040830331, false, e, r, r},
		{"small exact", []float64{3.1, 4.5, 2.2, 5.0, 6.3, 4.1}, []float64{1.2, 2.8, 3.3, 0.9}, TwoSided, 0.95, 21, 0.0666666666666667, 2.05, -0.2, 4.1, true, 1e-12, e, e},
		{"small exact less", []float64{1.2, 2.8, 3.3, 0.9}, []float64{3.1, 4.5, 2.2, 5.0, 6.3, 4.1}, Less, 0.95, 3, 0.0333333333333333, -2.05, -inf, -0.3, true, 1e-12, e, e},
		{"large no ties", u, v, TwoSided, 0.95, 1169, 0.00713913382103246, -0.930056238628408, -1.6200207320189, -0.225938474223485, false, e, r, r},
		{"large greater", u, v, Greater, 0.95, 1169, 0.996489878093627, -0.930056238628408, -1.49399513366732, inf, false, e, r, r},
		{"integer ties", []float64{0, 0, 1, 1, 1, 2, 3, 0, 1, 2}, []float64{1, 2, 2, 3, 3, 4, 2, 1, 3, 5, 2}, TwoSided, 0.95, 19.5, 0.0112535989475706, -1.00000215018615, -2.00002862174149, -4.53212760413698e-05, false, e, r, r},
		// The help page's formula example: wilcox.test(Ozone ~ Month, data
		// = airquality, subset = Month %in% c(5, 8)) prints W = 127.5,
		// p-value = 0.0001208 (ties: normal approximation).
		{"help airquality May vs August", ozoneMay, ozoneAug, TwoSided, 0.95, 127.5, 0.000120807830768774, -31.9999587219324, -52.9999854162704, -14.9999789830252, false, 1e-10, r, r},
		// Kayenta's MannWhitney test: control 1..4, experiment 10..40.
		{"kayenta 4x4", []float64{10, 20, 30, 40}, []float64{1, 2, 3, 4}, TwoSided, 0.95, 16, 0.0285714285714286, 22.5, 6, 39, true, 1e-12, e, e},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := RankSum(c.x, c.y, c.alt, c.conf)
			if err != nil {
				t.Fatal(err)
			}
			if got.W != c.w {
				t.Errorf("W = %v, want %v", got.W, c.w)
			}
			if got.Exact != c.exact {
				t.Errorf("Exact = %v, want %v", got.Exact, c.exact)
			}
			near(t, "p-value", got.PValue, c.p, c.tolP)
			near(t, "estimate", got.Estimate, c.est, c.tolEst)
			near(t, "lower", got.Lower, c.lo, c.tolCI)
			near(t, "upper", got.Upper, c.hi, c.tolCI)
		})
	}
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsInf(want, 0) {
		if got != want {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
		return
	}
	if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
		t.Errorf("%s = %.15g, want %.15g (tolerance %g)", what, got, want, tol)
	}
}

func TestWilcoxDistMatchesR(t *testing.T) {
	d := newWilcoxDist(5, 7)
	// R: pwilcox(10, 5, 7) = 0.133838383838384; qwilcox(0.025, 5, 7) = 6;
	// dwilcox(17, 5, 7) = 0.0618686868686869.
	near(t, "pwilcox", d.cdf(10), 0.133838383838384, 1e-13)
	if q := d.quantile(0.025); q != 6 {
		t.Errorf("qwilcox = %d, want 6", q)
	}
	near(t, "dwilcox", d.count[17]/d.total, 0.0618686868686869, 1e-13)
	// R: pwilcox(600, 40, 45) = 0.00394848978209958.
	near(t, "pwilcox(600,40,45)", newWilcoxDist(40, 45).cdf(600), 0.00394848978209958, 1e-12)
	// The distribution is symmetric and sums to C(m+n, m).
	if d.total != 792 {
		t.Errorf("total = %v, want C(12,5) = 792", d.total)
	}
	for k := range d.count {
		if d.count[k] != d.count[len(d.count)-1-k] {
			t.Fatalf("asymmetric at %d", k)
		}
	}
}

func TestRankSumErrors(t *testing.T) {
	if _, err := RankSum(nil, []float64{1}, TwoSided, 0.95); err == nil {
		t.Error("empty x accepted")
	}
	if _, err := RankSum([]float64{1, math.NaN()}, []float64{1}, TwoSided, 0.95); err == nil {
		t.Error("NaN accepted")
	}
	if _, err := RankSum([]float64{1}, []float64{2}, TwoSided, 1); err == nil {
		t.Error("confidence level 1 accepted")
	}
	if _, err := RankSum([]float64{3, 3, 3}, []float64{3, 3}, TwoSided, 0.95); !errors.Is(err, ErrAllTied) {
		t.Errorf("all tied: err = %v, want ErrAllTied", err)
	}
}

// TestRankSumSymmetry: swapping the samples mirrors W, the estimate and
// the interval, and keeps the two-sided p-value.
func TestRankSumSymmetry(t *testing.T) {
	for _, pair := range [][2][]float64{{hwX, hwY}, {depX, depY}} {
		a, err := RankSum(pair[0], pair[1], TwoSided, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		b, err := RankSum(pair[1], pair[0], TwoSided, 0.95)
		if err != nil {
			t.Fatal(err)
		}
		if a.W+b.W != float64(a.NX*a.NY) {
			t.Errorf("W %v + %v != nx*ny", a.W, b.W)
		}
		near(t, "p", a.PValue, b.PValue, 1e-12)
		// Root finding stops within R's tolerance of 1e-4.
		near(t, "estimate", a.Estimate, -b.Estimate, 2*rootTol)
		near(t, "lower/upper", a.Lower, -b.Upper, 2*rootTol)
	}
}

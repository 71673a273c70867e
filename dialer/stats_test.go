package dialer

import (
	"math"
	"testing"
)

func TestClopperPearsonKnownValues(t *testing.T) {
	t.Parallel()
	// One-sided 95% upper bounds (routing-dialer-anchors.md §3.3).
	cases := []struct {
		k, n int
		want float64 // percent, 2 decimals
	}{
		{2, 200, 3.11}, {4, 200, 4.52}, {10, 1000, 1.69}, {20, 1000, 2.89}, {100, 5000, 2.36},
	}
	for _, tc := range cases {
		got := 100 * ClopperPearsonUpper(tc.k, tc.n, 0.95)
		if math.Abs(got-tc.want) > 0.005 {
			t.Errorf("%d/%d: %.4f%%, want %.2f%%", tc.k, tc.n, got, tc.want)
		}
	}
	// Zero successes has a closed form: 1 - alpha^(1/n).
	for _, n := range []int{1, 10, 99, 299, 5000} {
		want := 1 - math.Pow(0.05, 1/float64(n))
		if got := ClopperPearsonUpper(0, n, 0.95); math.Abs(got-want) > 1e-9 {
			t.Errorf("0/%d: %g, want %g", n, got, want)
		}
	}
	if ClopperPearsonUpper(0, 0, 0.95) != 1 || ClopperPearsonUpper(5, 5, 0.95) != 1 {
		t.Error("degenerate cases")
	}
	// UpperWithin agrees with the bound.
	if !UpperWithin(0, 299, 0.01, 0.95) || UpperWithin(0, 298, 0.01, 0.95) || !UpperWithin(0, 99, 0.03, 0.95) || UpperWithin(0, 98, 0.03, 0.95) {
		t.Error("UpperWithin at the zero-abandon thresholds")
	}
}

func TestWilsonUpper(t *testing.T) {
	t.Parallel()
	if got := WilsonUpper(10, 1000, 0.95); math.Abs(got-0.016657) > 1e-5 {
		t.Errorf("wilson 10/1000 = %g", got)
	}
	// Wilson is a little below Clopper-Pearson (which is conservative).
	if WilsonUpper(2, 200, 0.95) >= ClopperPearsonUpper(2, 200, 0.95) {
		t.Error("wilson above clopper-pearson")
	}
}

func TestRegIncBetaAndBinomial(t *testing.T) {
	t.Parallel()
	if got := RegIncBeta(2, 3, 0.5); math.Abs(got-0.6875) > 1e-12 {
		t.Errorf("I_0.5(2,3) = %g", got)
	}
	for _, x := range []float64{0.1, 0.5, 0.9} {
		if got := RegIncBeta(1, 1, x); math.Abs(got-x) > 1e-12 {
			t.Errorf("I_x(1,1) = %g at %g", got, x)
		}
		if got := RegIncBeta(3, 1, x); math.Abs(got-x*x*x) > 1e-12 {
			t.Errorf("I_x(3,1) = %g at %g", got, x)
		}
	}
	// Binomial CDF against a direct sum.
	n, p := 20, 0.3
	sum, term := 0.0, math.Pow(1-p, float64(n))
	for k := 0; k <= 8; k++ {
		sum += term
		if got := BinomialCDF(float64(k), float64(n), p); math.Abs(got-sum) > 1e-12 {
			t.Errorf("P(X<=%d) = %g, want %g", k, got, sum)
		}
		term *= float64(n-k) / float64(k+1) * p / (1 - p)
	}
}

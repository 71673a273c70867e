package dialer

import "math"

// Confidence bounds for the abandon rate: abandons ~ Binomial(live answers, q).

// BinomialCDF returns P(X <= k) for X ~ Binomial(n, p). k and n may be fractional
// (the regularized incomplete beta form is used), which the pacer's headroom search
// relies on.
func BinomialCDF(k, n, p float64) float64 {
	switch {
	case k < 0:
		return 0
	case k >= n:
		return 1
	case p <= 0:
		return 1
	case p >= 1:
		return 0
	}
	return RegIncBeta(n-k, k+1, 1-p)
}

// ClopperPearsonUpper is the exact one-sided upper confidence bound of a binomial
// proportion with k successes in n trials at confidence conf (e.g. 0.95): the p at
// which P(X <= k) = 1-conf. With n = 0 it is 1.
func ClopperPearsonUpper(k, n int, conf float64) float64 {
	if n <= 0 || k >= n {
		return 1
	}
	alpha := 1 - conf
	lo, hi := float64(k)/float64(n), 1.0
	for range 64 {
		mid := (lo + hi) / 2
		if BinomialCDF(float64(k), float64(n), mid) > alpha {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// UpperWithin reports whether the Clopper-Pearson upper bound of k in n at conf is at
// most target, without inverting: the bound is at most target exactly when
// P(X <= k | n, target) <= 1-conf.
func UpperWithin(k, n, target, conf float64) bool {
	if n <= 0 {
		return false
	}
	return BinomialCDF(k, n, target) <= 1-conf
}

// WilsonUpper is the one-sided Wilson score upper bound (a closed-form alternative).
func WilsonUpper(k, n int, conf float64) float64 {
	if n <= 0 {
		return 1
	}
	z := math.Sqrt2 * math.Erfinv(2*conf-1)
	nn, ph := float64(n), float64(k)/float64(n)
	den := 1 + z*z/nn
	center := ph + z*z/(2*nn)
	half := z * math.Sqrt(ph*(1-ph)/nn+z*z/(4*nn*nn))
	return math.Min(1, (center+half)/den)
}

// RegIncBeta is the regularized incomplete beta function I_x(a, b), evaluated with
// its continued fraction (modified Lentz), using the symmetry
// I_x(a,b) = 1 - I_{1-x}(b,a) where the fraction converges slowly.
func RegIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	la, _ := math.Lgamma(a + b)
	lb, _ := math.Lgamma(a)
	lc, _ := math.Lgamma(b)
	front := math.Exp(la - lb - lc + a*math.Log(x) + b*math.Log1p(-x))
	if x < (a+1)/(a+b+2) {
		return front * betaCF(a, b, x) / a
	}
	return 1 - front*betaCF(b, a, 1-x)/b
}

func betaCF(a, b, x float64) float64 {
	const tiny, eps = 1e-300, 1e-15
	fix := func(v float64) float64 {
		if math.Abs(v) < tiny {
			return tiny
		}
		return v
	}
	c, d := 1.0, 1/fix(1-(a+b)*x/(a+1))
	h := d
	for m := 1; m <= 500; m++ {
		fm := float64(m)
		num := fm * (b - fm) * x / ((a + 2*fm - 1) * (a + 2*fm))
		d = 1 / fix(1+num*d)
		c = fix(1 + num/c)
		h *= d * c
		num = -(a + fm) * (a + b + fm) * x / ((a + 2*fm) * (a + 2*fm + 1))
		d = 1 / fix(1+num*d)
		c = fix(1 + num/c)
		del := d * c
		h *= del
		if math.Abs(del-1) < eps {
			break
		}
	}
	return h
}

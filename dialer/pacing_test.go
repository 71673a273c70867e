package dialer

import (
	"testing"
	"time"
)

// primed returns an estimator that has seen n dials with the given shares.
func primed(n int, live, machine float64) *Estimator {
	e := NewEstimator(1000)
	for i := range n {
		u := float64(i%100) / 100
		switch {
		case u < live:
			e.ObserveDial(DialObservation{Answered: true, Live: true, Ring: 8 * time.Second})
		case u < live+machine:
			e.ObserveDial(DialObservation{Answered: true, Ring: 9 * time.Second})
		default:
			e.ObserveDial(DialObservation{})
		}
	}
	for i := range 200 {
		e.ObserveHandle(time.Duration(120+i%120) * time.Second)
	}
	return e
}

func TestPacerModes(t *testing.T) {
	t.Parallel()
	est := primed(1000, 0.25, 0.25)
	busy := make([]time.Duration, 15)
	for i := range busy {
		busy[i] = time.Duration(60+10*i) * time.Second
	}
	good := AbandonStats{Live: 5000, Abandoned: 20} // 0.4%, bound well under 3%
	cases := []struct {
		name    string
		o       PacerOptions
		est     *Estimator
		in      PaceInput
		mode    Pacing
		reserve bool
		dials   func(int) bool
		why     string
	}{
		{"agentless fills channels", PacerOptions{Mode: Agentless}, est,
			PaceInput{FreeChannels: 7}, Agentless, false, func(n int) bool { return n == 7 }, ""},
		{"progressive one per ready agent", PacerOptions{Mode: Progressive}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1}, Progressive, true, func(n int) bool { return n == 4 }, ""},
		{"predictive falls back with few live answers", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1, Abandon: AbandonStats{Live: 60}}, Progressive, true,
			func(n int) bool { return n == 4 }, "fallback: 60 live answers < 100"},
		{"predictive falls back at 1% until 299 live answers", PacerOptions{Mode: Predictive, Target: 0.01}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1, Abandon: AbandonStats{Live: 298}}, Progressive, true,
			func(n int) bool { return n == 4 }, "fallback: 298 live answers < 299"},
		{"predictive falls back without dial history", PacerOptions{Mode: Predictive, Target: 0.03}, primed(50, 0.25, 0.25),
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1, Abandon: good}, Progressive, true,
			func(n int) bool { return n == 4 }, "fallback: 50 dial outcomes < 100"},
		{"predictive falls back when the bound is at the target", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1, Abandon: AbandonStats{Live: 1000, Abandoned: 26}}, Progressive, true,
			func(n int) bool { return n == 4 }, "fallback: abandon bound at target"},
		{"fallback keeps agents for calls in flight", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 4, Ringing: []time.Duration{time.Second, 2 * time.Second}, Classifying: 1, FreeChannels: -1, Abandon: AbandonStats{Live: 60}},
			Progressive, true, func(n int) bool { return n == 1 }, ""},
		{"predictive dials ahead", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: -1, Abandon: good}, Predictive, false,
			func(n int) bool { return n > 4*3 }, ""},
		{"predictive respects channels", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 4, Busy: busy, FreeChannels: 5, Abandon: good}, Predictive, false,
			func(n int) bool { return n == 5 }, ""},
		{"predictive counts calls in flight", PacerOptions{Mode: Predictive, Target: 0.03}, est,
			PaceInput{Ready: 1, Ringing: make([]time.Duration, 40), FreeChannels: -1, Abandon: good}, Predictive, false,
			func(n int) bool { return n == 0 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := NewPacer(tc.o, tc.est)
			pl := p.Plan(tc.in)
			if pl.Mode != tc.mode || pl.Reserve != tc.reserve || !tc.dials(pl.Dials) || (tc.why != "" && pl.Why != tc.why) {
				t.Fatalf("plan %v (reserve %v)", pl, pl.Reserve)
			}
		})
	}
}

func TestPacerThresholdFollowsBudget(t *testing.T) {
	t.Parallel()
	p := NewPacer(PacerOptions{Mode: Predictive, Target: 0.03}, primed(1000, 0.25, 0.25))
	low, _ := p.Threshold(AbandonStats{Live: 10000, Abandoned: 50}, 0) // 0.5%: lots of room
	mid, _ := p.Threshold(AbandonStats{Live: 10000, Abandoned: 250}, 0)
	none, why := p.Threshold(AbandonStats{Live: 10000, Abandoned: 290}, 0) // bound above 3%
	if !(low > mid && mid > 0 && none == 0) || why == "" {
		t.Fatalf("thresholds %g %g %g (%s)", low, mid, none, why)
	}
	// Committed abandons of calls in flight eat the budget.
	withCommitted, _ := p.Threshold(AbandonStats{Live: 10000, Abandoned: 250}, 5)
	if withCommitted >= mid {
		t.Fatalf("committed abandons ignored: %g >= %g", withCommitted, mid)
	}
	// kMax is the largest count with the bound at the target.
	k := p.kMax(10000)
	if !UpperWithin(k, 10000, 0.03, 0.95) || UpperWithin(k+0.05, 10000, 0.03, 0.95) {
		t.Fatalf("kMax(10000) = %g", k)
	}
}

func TestSimulatorPredictiveBeatsProgressive(t *testing.T) {
	t.Parallel()
	base := SimOptions{Agents: 20, LiveAnswerProb: 0.25, HandleTime: LogNormal(180*time.Second, 90*time.Second),
		Days: simDays, Seed: 7, AbandonTarget: 0.03}
	prog, pred := base, base
	prog.Mode, pred.Mode = Progressive, Predictive
	rp := Simulate(prog)
	rd := Simulate(pred)
	t.Logf("\n%s", SimTable(rp, rd))
	if rp.Abandoned != 0 {
		t.Errorf("progressive abandoned %d calls", rp.Abandoned)
	}
	if rd.TalkMinutesPerAgentHour <= rp.TalkMinutesPerAgentHour {
		t.Errorf("predictive %.1f talk min/agent-h does not beat progressive %.1f", rd.TalkMinutesPerAgentHour, rp.TalkMinutesPerAgentHour)
	}
	if rd.TalkMinutesPerAgentHour < 50 {
		t.Errorf("predictive %.1f talk min/agent-h < 50", rd.TalkMinutesPerAgentHour)
	}
	if rd.AbandonUpper > 0.03 || rd.MaxAbandonUpper > 0.03 {
		t.Errorf("abandon upper bound %.4f (max during the run %.4f) > 3%%", rd.AbandonUpper, rd.MaxAbandonUpper)
	}
	// Same seed, same result.
	if again := Simulate(pred); again != rd {
		t.Errorf("not reproducible:\n%v\n%v", again, rd)
	}
}

func TestParseDist(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"180s": "3m0s", "exp:180s": "exp(3m0s)", "uniform:5s:20s": "uniform(5s..20s)",
		"lognormal:180s:90s": "lognormal(3m0s±1m30s)"} {
		d, err := ParseDist(in)
		if err != nil || d.String() != want {
			t.Errorf("%s: %v %v", in, d, err)
		}
	}
	for _, bad := range []string{"", "exp", "uniform:20s:5s", "gamma:1s:2s", "lognormal:0s:1s", "-5s"} {
		if _, err := ParseDist(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if m := LogNormal(180*time.Second, 90*time.Second); m.Mean() != 180*time.Second {
		t.Errorf("mean %s", m.Mean())
	}
}

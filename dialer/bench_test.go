package dialer

import (
	"testing"
	"time"
)

// BenchmarkSimulate reports the pacing comparison of the target scenario: 20 agents,
// 25% live answers, 180 s handle time, 10 simulated days.
func BenchmarkSimulate(b *testing.B) {
	for _, m := range []Pacing{Progressive, Predictive} {
		b.Run(string(m), func(b *testing.B) {
			var r SimReport
			for b.Loop() {
				r = Simulate(SimOptions{Mode: m, Agents: 20, LiveAnswerProb: 0.25,
					HandleTime: LogNormal(180*time.Second, 90*time.Second), Days: 10, Seed: 7, AbandonTarget: 0.03})
			}
			b.ReportMetric(r.TalkMinutesPerAgentHour, "talk-min/agent-h")
			b.ReportMetric(100*r.AbandonUpper, "abandon-ucb95-%")
		})
	}
}

// BenchmarkPacerPlan measures one predictive decision with 20 busy agents and 40
// calls ringing.
func BenchmarkPacerPlan(b *testing.B) {
	p := NewPacer(PacerOptions{Mode: Predictive, Target: 0.03}, primed(1000, 0.25, 0.25))
	in := PaceInput{Ready: 2, Busy: make([]time.Duration, 18), Ringing: make([]time.Duration, 40), FreeChannels: -1,
		Abandon: AbandonStats{Live: 20000, Abandoned: 300}}
	for i := range in.Busy {
		in.Busy[i] = time.Duration(10*i) * time.Second
	}
	for i := range in.Ringing {
		in.Ringing[i] = time.Duration(i%25) * time.Second
	}
	for b.Loop() {
		p.Plan(in)
	}
}

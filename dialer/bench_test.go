package dialer

import (
	"context"
	"fmt"
	"sync/atomic"
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
			b.ReportMetric(100*r.AbandonRate, "abandon-%")
			b.ReportMetric(100*r.Occupancy, "occupancy-%")
			b.ReportMetric(r.DialsPerHour, "dials/h")
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

// BenchmarkGateCheck measures one dial decision against PostgreSQL (opt-outs by phone
// and patient, daily and weekly caps, spacing): the decision rate of one runner.
// Parallel runs eight deciders at once on the same pool, as several campaigns do.
func BenchmarkGateCheck(b *testing.B) {
	pool := testDB(b)
	ctx := context.Background()
	c := testCampaign("refills", RefillReminder)
	if err := EnsureCampaign(ctx, pool, c); err != nil {
		b.Fatal(err)
	}
	const phones = 200
	cts := make([]*Contact, phones)
	for i := range cts {
		p := fmt.Sprintf("+1212555%04d", i)
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO campaign_contacts (campaign, patient_ref, phone, language, time_zones, tz_source, dedupe_key)
			VALUES ('refills', $1, $2, 'en', '{America/New_York}', 'record', $1) RETURNING id`, fmt.Sprint("P", i), p).Scan(&id); err != nil {
			b.Fatal(err)
		}
		// Two earlier calls this week: the caps have rows to count.
		for _, d := range []string{"2026-06-07 10:00", "2026-06-08 10:00"} {
			addAttempt(b, pool, id, p, at(b, ny, d), ny)
		}
		cts[i] = &Contact{ID: id, Phone: p, PatientRef: fmt.Sprint("P", i), Zones: []string{ny}, State: "NY"}
	}
	g := NewGate(DefaultRules())
	now := at(b, ny, "2026-06-10 10:00")
	check := func(b *testing.B, ct *Contact) {
		d, err := g.Check(ctx, pool, c, ct, now)
		if err != nil || d.Reason != ReasonAllowed {
			b.Fatalf("got %v %v, want allowed", d, err)
		}
	}
	b.Run("serial", func(b *testing.B) {
		i := 0
		for b.Loop() {
			check(b, cts[i%phones])
			i++
		}
	})
	b.Run("parallel8", func(b *testing.B) {
		b.SetParallelism(4) // 4 × GOMAXPROCS(2) = 8 goroutines
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				check(b, cts[int(n.Add(1))%phones])
			}
		})
	})
}

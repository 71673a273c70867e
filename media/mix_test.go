package media

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/careline/careline/media/dsp"
)

// Whisper: the agent hears the patient and the supervisor; the patient hears only the
// agent; the supervisor hears both. Each phone plays its own tone.
func TestMixWhisper(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t, 16)
	type leg struct{ phone, ours *Session }
	mk := func() leg {
		ph, ours := e.session(t), e.session(t)
		connect(t, ph, ours, sdpCfg(ph, true), sdpCfg(ours, true))
		return leg{ph, ours}
	}
	patient, agent, sup := mk(), mk(), mk()
	// patient 0, agent 1, supervisor 2
	hears := [][]bool{
		{false, true, false}, // patient <- agent
		{true, false, true},  // agent <- patient + supervisor
		{true, true, false},  // supervisor <- patient + agent
	}
	m, err := NewMix([]MixParticipant{{"patient", patient.ours, nil}, {"agent", agent.ours, nil}, {"supervisor", sup.ours, nil}}, hears)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.String(), "Mix[patient<-agent; agent<-patient+supervisor; supervisor<-patient+agent]"; got != want {
		t.Fatalf("mix %q, want %q", got, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	heard := map[string]*collector{}
	for name, l := range map[string]leg{"patient": patient, "agent": agent, "supervisor": sup} {
		c := newCollector(name, 8000)
		l.phone.SetSink(c)
		heard[name] = c
	}
	play := func(s *Session, hz float64) chan error {
		ch := make(chan error, 1)
		go func() {
			_, err := s.Play(context.Background(), PlayOptions{Prompts: []*Prompt{Tone(hz, 1500*time.Millisecond)}})
			ch <- err
		}()
		return ch
	}
	p1, p2, p3 := play(patient.phone, 440), play(agent.phone, 1000), play(sup.phone, 1500)
	for _, c := range heard {
		wait(t, c.full, c.name)
	}
	<-p1
	<-p2
	<-p3
	cancel()
	<-done
	power := func(name string, hz float64) float64 {
		pcm, _ := heard[name].snapshot()
		return dsp.GoertzelPower(pcm[1600:8000], hz, 8000)
	}
	ref := power("patient", 1000) // the agent, as the patient hears it
	for _, c := range []struct {
		who  string
		hz   float64
		want bool
	}{
		{"patient", 1000, true}, {"patient", 1500, false}, // whisper: not heard by the patient
		{"agent", 440, true}, {"agent", 1500, true},
		{"supervisor", 440, true}, {"supervisor", 1000, true},
	} {
		p := power(c.who, c.hz)
		heardIt := p > ref/20
		if heardIt != c.want {
			t.Errorf("%s hears %.0f Hz: power %.3g (ref %.3g), want heard=%v", c.who, c.hz, p, ref, c.want)
		}
	}
	if math.IsNaN(ref) || ref == 0 {
		t.Fatal("no reference power")
	}
}

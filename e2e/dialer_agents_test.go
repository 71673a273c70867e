package e2e

import (
	"testing"
	"time"

	"github.com/careline/careline/dialer"
)

// progressiveCampaign dials one patient per ready coordinator and connects the live
// answer to that agent through the queue (ACD: ring, bridge, wrap-up disposition).
func progressiveCampaign(name string) string {
	return refillCampaign(name, "    pacing: progressive\n    queue: coordinator\n")
}

// Progressive: a ready agent is reserved, the patient answers, the agent's softphone
// (auto-answer) is on the line within 2 s, they talk, the patient hangs up and the
// agent keys the wrap-up disposition, which becomes the attempt's.
func TestDialerProgressiveConnectsAgent(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 90*time.Second)
	const phoneNo = "+13125550121"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t), record: true})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(), campaigns: progressiveCampaign("follow-up"),
		agents: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]")), clock: clock, onPrompt: plog.add})
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	e.agentAPI(t, "ana", "login")
	e.importCSV(t, "follow-up", "patient_ref,phone,time_zone\nF1,"+phoneNo+",America/Chicago\n", clock)
	e.startCampaign(t, "follow-up")
	if _, err := pat.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the patient was not called: %v", err)
	}
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the agent was not connected: %v", err)
	}
	time.Sleep(2 * time.Second) // they talk (the agent's 1 kHz tone)
	if _, err := pat.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	pat.WaitEvent(ctx, "CALL_CLOSED")
	plog.waitFor(t, "agent/enter_disposition") // barge in: wrap-up is short
	time.Sleep(300 * time.Millisecond)
	if _, err := ana.Command(ctx, "sndcode", "2#"); err != nil {
		t.Fatal(err)
	}
	a := e.waitAttempts(t, "follow-up", 1)[0]
	if a.Disposition != string(dialer.RefillRequested) || !a.Live || a.Abandoned || a.AMD != "human" {
		t.Fatalf("attempt %+v", a)
	}
	pat.heardTone(t, 1000)
	got := e.attemptEvents(t, a.ID)
	if !isSubsequence(got, []string{"dialer.decision:allowed", "dialer.attempt.started", "dialer.amd:human", "queue.offer",
		"queue.answer", "bridge.started", "bridge.ended", "agent.disposition", "dialer.attempt.ended:refill-requested"}) {
		t.Fatalf("events %v", got)
	}
	var agent string
	e.Pool.QueryRow(ctx, `SELECT coalesce(agent_id,'') FROM interactions WHERE id=$1`, a.ID).Scan(&agent)
	if agent != "ana" {
		t.Fatalf("interaction agent %q", agent)
	}
}

// The 2-second rule: the agent's softphone only rings (no auto-answer); 2 s after the
// patient's greeting the patient hears the identification and opt-out message instead,
// the call counts as abandoned, and 9 during that message opts out.
func TestDialerNoAgentInTwoSecondsIsAbandoned(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t, 90*time.Second)
	const phoneNo = "+13125550122"
	pat := startPatient(t, ctx, patientOpts{phone: phoneNo, greeting: personGreeting(t)})
	clock, plog := newTestClock(openAnchor(t)), newPromptLog()
	e := startDialerEngine(t, dialerEngineOpts{patientAddr: pat.SIPAddr(), campaigns: progressiveCampaign("follow-up"),
		agents: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]")), clock: clock, onPrompt: plog.add})
	ana := startPhone(t, ctx, e, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], tone: 1000})
	e.agentAPI(t, "ana", "login")
	e.importCSV(t, "follow-up", "patient_ref,phone,time_zone\nF2,"+phoneNo+",America/Chicago\n", clock)
	e.startCampaign(t, "follow-up")
	if _, err := pat.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("the patient was not called: %v", err)
	}
	answered := time.Now()
	if _, err := ana.WaitEvent(ctx, "CALL_INCOMING"); err != nil {
		t.Fatalf("the agent's phone did not ring: %v", err)
	}
	ab := plog.waitFor(t, "dialer/abandoned")
	// AMD hears "hello" end 0.8 s into the call: the message comes 2 s after that.
	if wait := ab.At.Sub(answered); wait > 4*time.Second {
		t.Fatalf("the abandon message started %s after the answer", wait)
	}
	if _, err := ana.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatalf("the agent's phone kept ringing: %v", err)
	}
	plog.waitFor(t, "dialer/stop_calls_option")
	if _, err := pat.Command(ctx, "sndcode", "9"); err != nil {
		t.Fatal(err)
	}
	if _, err := pat.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}
	a := e.waitAttempts(t, "follow-up", 1)[0]
	if a.Disposition != string(dialer.Abandoned) || !a.Live || !a.Abandoned {
		t.Fatalf("attempt %+v", a)
	}
	var src string
	if err := e.Pool.QueryRow(ctx, `SELECT source FROM opt_outs WHERE phone=$1`, phoneNo).Scan(&src); err != nil || src != "abandon_message" {
		t.Fatalf("opt-out %q %v", src, err)
	}
	if got := e.attemptEvents(t, a.ID); !isSubsequence(got, []string{"dialer.amd:human", "queue.offer", "queue.leave",
		"dialer.attempt.ended:abandoned", "dialer.opt_out"}) {
		t.Fatalf("events %v", got)
	}
}

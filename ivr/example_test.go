package ivr_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/ivr/ivrtest"
	"github.com/careline/careline/say"
)

func TestExampleConfigValidates(t *testing.T) {
	t.Parallel()
	cfg := loadExample(t)
	if is := ivr.Validate(cfg, loadManifest(t)); len(is) > 0 {
		t.Fatalf("example config has issues:\n%v", is)
	}
	if cfg.Numbers["+15125550101"].Language != "es" || cfg.Numbers["5550100"].Flow != "pharmacy" || cfg.Numbers["9999"].App != "dtmf_echo" {
		t.Fatalf("numbers: %+v", cfg.Numbers)
	}
}

// The exact node-exit sequence of a Spanish refill request; the end-to-end test
// with baresip reuses ivrtest.PharmacySpanishRefill.
func TestExampleSpanishRefill(t *testing.T) {
	t.Parallel()
	const rx = "1234567"
	h := newHarness(t, loadExample(t), ivr.WithHasher(logx.NewHasher([]byte("test-key"))))
	script, want := ivrtest.PharmacySpanishRefill(rx)
	ch := ivrtest.NewChannel("en", inbound(true), script...)
	out, err := h.run(t, "pharmacy", ch)
	if err != nil {
		t.Fatal(err)
	}
	if out.Kind != ivr.OutcomeHangup || out.CallerHangup || out.Node != "goodbye" || out.Language != "es" || !ch.HungUp() {
		t.Fatalf("outcome %+v, flow hung up %v", out, ch.HungUp())
	}
	wantStrings(t, "node exits", exitStrings(h.events.NodeExits()), exitStrings(want))
	if got := h.events.NodeExits(); !slices.Equal(got, want) {
		t.Errorf("node exits (with flow and kind):\n got  %+v\n want %+v", got, want)
	}
	wantStrings(t, "event types", h.events.Types(), []string{
		"ivr.node_exit", "ivr.node_exit", "ivr.node_exit", "ivr.node_exit", "ivr.node_exit",
		"ivr.node_exit", "refill.requested", "ivr.node_exit", "ivr.node_exit"})

	// Prompts: welcome in the number's language; the language lines each in their own;
	// everything after the choice in Spanish; the Rx number read back digit by digit.
	wantPlayed := cat(
		en("main/welcome", "lang/english"), es("lang/spanish"),
		es("main/emergency", "main/menu", "refill/enter_rx", "refill/received_prefix"),
		langIDs("es", say.Digits(say.Spanish, rx)...),
		es("refill/received_suffix", "main/goodbye"))
	wantStrings(t, "prompts", ch.PlayedIDs(), wantPlayed)

	evs := h.events.All()
	// The language exit patches the interaction.
	if p := evs[1].Interaction; p == nil || p.Language != "es" || evs[1].Detail["language"] != "es" {
		t.Errorf("language event: %+v", evs[1])
	}
	// The business event carries a category and a keyed hash, never the number.
	biz := evs[6]
	if biz.Detail["var"] != "rx_number" || biz.Detail["value"] != "len:7" ||
		biz.Detail["hash"] != logx.NewHasher([]byte("test-key")).Token(rx) || biz.InteractionID != testIID {
		t.Errorf("business event: %+v", biz)
	}
	raw, _ := json.Marshal(evs)
	if strings.Contains(string(raw), rx) || strings.Contains(string(raw), "1234") {
		t.Errorf("raw digits in events: %s", raw)
	}
	for _, ev := range evs {
		if !ev.At.Equal(mondayOpen) {
			t.Errorf("event time %v, want the injected clock", ev.At)
		}
	}
	if out.Vars["rx_number"] != rx {
		t.Errorf("vars: %v", out.Vars)
	}
	// Collect asked for 6..10 digits ended by #.
	cs := ch.Collects()
	if c := cs[len(cs)-1]; c.Max != 10 || c.Min != 6 || c.Terminators != "#" || c.FirstDigitTimeout != 10*time.Second || c.InterDigitTimeout != 5*time.Second {
		t.Errorf("refill collect spec: %+v", c)
	}
	if v := metricValue(t, h, "careline_ivr_node_exits_total", "flow", "pharmacy", "node", "main_menu", "exit", "option:1"); v != 1 {
		t.Errorf("careline_ivr_node_exits_total{main_menu,option:1} = %v", v)
	}
	if v := metricValue(t, h, "careline_ivr_outcomes_total", "flow", "pharmacy", "outcome", "hangup"); v != 1 {
		t.Errorf("careline_ivr_outcomes_total{hangup} = %v", v)
	}
}

func TestExampleLanguageMenuTimeoutKeepsNumberLanguage(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadExample(t))
	// A Spanish number: no key at the language menu keeps Spanish.
	ch := ivrtest.NewChannel("es", inbound(true), ivrtest.Silence(), ivrtest.Press("2"))
	out, err := h.run(t, "pharmacy", ch)
	if err != nil || out.Kind != ivr.OutcomeQueue || out.Queue.Name != "pharmacist" || out.Queue.Language != "es" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	wantStrings(t, "exits", h.events.ExitStrings(), []string{
		"welcome=ok", "language=timeout", "emergency=ok", "hours=open", "main_menu=option:2", "pharmacist=ok"})
	if h.events.All()[1].Interaction != nil {
		t.Error("timeout must not patch the language")
	}
	if got := ch.Collects()[0].FirstDigitTimeout; got != 4*time.Second {
		t.Errorf("language menu timeout %v", got)
	}
	wantStrings(t, "prompts", ch.PlayedIDs(), cat(es("main/welcome"), en("lang/english"), es("lang/spanish"),
		es("main/emergency", "main/menu", "transfer/pharmacist")))
}

func TestExampleMainMenuQueues(t *testing.T) {
	t.Parallel()
	cases := []struct {
		key, queue string
		prio       ivr.Priority
		reason     string
	}{
		{"2", "pharmacist", ivr.PriorityNormal, "pharmacist"},
		{"3", "appointments", ivr.PriorityNormal, "appointments"},
		{"4", "billing", ivr.PriorityNormal, "billing"},
		{"5", "nurse", ivr.PriorityUrgent, "urgent_symptoms"},
		{"0", "coordinator", ivr.PriorityNormal, "coordinator"},
	}
	cfg := loadExample(t)
	for _, tc := range cases {
		t.Run(tc.queue, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, cfg)
			// A key during the emergency notice is dropped (not interruptible); the
			// menu key barges into the menu prompt.
			ch := ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1"), ivrtest.Barge("9"), ivrtest.Barge(tc.key))
			out, err := h.run(t, "pharmacy", ch)
			if err != nil {
				t.Fatal(err)
			}
			q := out.Queue
			if out.Kind != ivr.OutcomeQueue || q == nil || q.Name != tc.queue || q.Priority != tc.prio || q.Reason != tc.reason ||
				q.Language != "en" || len(q.Skills) != 1 || q.Skills[0] != tc.queue {
				t.Fatalf("outcome %+v queue %+v", out, q)
			}
			if ch.HungUp() {
				t.Error("a queued call must stay up")
			}
			if ch.Dropped() != "9" {
				t.Errorf("dropped %q, want the key pressed during the emergency notice", ch.Dropped())
			}
			// The menu prompt was cut short, so the short prompt never played and
			// the queue's hold message follows the menu prompt.
			played := ch.PlayedIDs()
			wantStrings(t, "last prompts", played[len(played)-2:], en("main/menu", "transfer/"+tc.queue))
		})
	}
}

func TestExampleMainMenuMaxFailuresGoesToCoordinator(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadExample(t))
	ch := ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1"),
		ivrtest.Press("9"), ivrtest.Silence(), ivrtest.Press("#"), ivrtest.Press("7"))
	out, err := h.run(t, "pharmacy", ch)
	if err != nil || out.Queue == nil || out.Queue.Name != "coordinator" {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	exits := h.events.All()
	mm := exits[4]
	if mm.Detail["exit"] != "max_failures" || mm.Detail["failures"] != 3 || mm.Detail["timeouts"] != 1 {
		t.Fatalf("main menu exit: %+v", mm.Detail)
	}
	wantStrings(t, "prompts", ch.PlayedIDs(), cat(
		en("main/welcome", "lang/english"), es("lang/spanish"),
		en("main/emergency", "main/menu", "menu/invalid", "main/menu_short", "menu/timeout", "main/menu_short",
			"menu/invalid", "main/menu_short", "menu/max_failures", "transfer/coordinator")))
}

// The after-hours path, driven by a fixed clock: closed notice, hours said in the
// call's language, then voicemail (1) or call back (2).
func TestExampleAfterHours(t *testing.T) {
	t.Parallel()
	cfg := loadExample(t)
	hoursEN := say.Hours(say.English, []say.DayHours{
		{From: time.Monday, To: time.Friday, Spans: []say.Span{{Open: 8 * time.Hour, Close: 20 * time.Hour}}},
		{From: time.Saturday, To: time.Saturday, Spans: []say.Span{{Open: 9 * time.Hour, Close: 17 * time.Hour}}},
	})
	t.Run("voicemail", func(t *testing.T) {
		t.Parallel()
		vm := &ivrtest.Voicemails{}
		h := newHarness(t, cfg, ivr.WithClock(fixedClock(mondayNight)), ivr.WithVoicemailStore(vm))
		ch := ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1"), ivrtest.Press("1"),
			ivrtest.Speak(20*time.Second, ivr.RecordHangup))
		out, err := h.run(t, "pharmacy", ch, ivr.CallInfo{Caller: "+15125550123"})
		if err != nil {
			t.Fatal(err)
		}
		if out.Kind != ivr.OutcomeVoicemail || out.VoicemailID != "vm-1" || !out.CallerHangup {
			t.Fatalf("outcome %+v", out)
		}
		wantStrings(t, "exits", h.events.ExitStrings(), []string{"welcome=ok", "language=option:1", "emergency=ok",
			"hours=closed", "closed=ok", "our_hours=ok", "after_hours=option:1", "voicemail=saved"})
		wantStrings(t, "prompts", ch.PlayedIDs(), cat(en("main/welcome", "lang/english"), es("lang/spanish"),
			en("main/emergency", "hours/closed", "hours/our_hours_are"), langIDs("en", hoursEN...),
			en("options/voicemail_or_callback", "voicemail/instructions", "tone/beep")))
		saved := vm.Saved()
		if len(saved) != 1 || saved[0].Meta.Box != "pharmacy" || saved[0].Meta.Caller != "+15125550123" ||
			saved[0].Meta.InteractionID != testIID || saved[0].Rec.Duration != 20*time.Second || len(saved[0].Rec.PCM) != 160000 {
			t.Fatalf("saved: %+v", saved)
		}
		if r := ch.Records()[0]; r.MaxDuration != 2*time.Minute || r.Silence != 5*time.Second || r.Terminators != "#" {
			t.Errorf("record spec %+v", r)
		}
	})
	t.Run("callback", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfg, ivr.WithClock(fixedClock(sundayNoon)))
		ch := ivrtest.NewChannel("es", inbound(true), ivrtest.Silence(), ivrtest.Press("2"), ivrtest.Press("1"))
		out, err := h.run(t, "pharmacy", ch, ivr.CallInfo{Caller: "+15125550123"})
		if err != nil {
			t.Fatal(err)
		}
		cb := out.Callback
		if out.Kind != ivr.OutcomeCallback || cb == nil || cb.Number != "+15125550123" || !cb.FromCallerID || !cb.Consent || !ch.HungUp() {
			t.Fatalf("outcome %+v callback %+v", out, cb)
		}
		wantStrings(t, "exits", h.events.ExitStrings(), []string{"welcome=ok", "language=timeout", "emergency=ok",
			"hours=closed", "closed=ok", "our_hours=ok", "after_hours=option:2", "callback=caller_id"})
		played := ch.PlayedIDs()
		wantStrings(t, "last prompts", played[len(played)-2:], es("callback/confirm_caller_number", "callback/confirmed"))
	})
	t.Run("holiday", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfg, ivr.WithClock(fixedClock(thanksgiving)))
		ch := ivrtest.NewChannel("en", inbound(false), ivrtest.Press("1"), ivrtest.Press("2"), ivrtest.Press("5125550123#"))
		out, err := h.run(t, "pharmacy", ch, ivr.CallInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if out.Kind != ivr.OutcomeCallback || out.Callback.Number != "5125550123" || out.Callback.FromCallerID {
			t.Fatalf("outcome %+v %+v", out, out.Callback)
		}
		wantStrings(t, "exits", h.events.ExitStrings(), []string{"welcome=ok", "language=option:1", "emergency=ok",
			"hours=holiday", "holiday=ok", "our_hours=ok", "after_hours=option:2", "callback=entered"})
	})
	t.Run("voicemail without a store falls back to call back", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, cfg, ivr.WithClock(fixedClock(mondayNight)))
		ch := ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1"), ivrtest.Press("1"), ivrtest.Press("1"))
		out, err := h.run(t, "pharmacy", ch, ivr.CallInfo{Caller: "+15125550123"})
		if err != nil || out.Kind != ivr.OutcomeCallback {
			t.Fatalf("outcome %+v err %v", out, err)
		}
		exits := h.events.ExitStrings()
		wantStrings(t, "last exits", exits[len(exits)-2:], []string{"voicemail=unavailable", "callback=caller_id"})
		if slices.Contains(ch.PlayedIDs(), "en:voicemail/instructions") || !slices.Contains(ch.PlayedIDs(), "en:common/technical_difficulty") {
			t.Errorf("must apologise instead of recording: %v", ch.PlayedIDs())
		}
	})
}

func TestExampleCallerHangsUpMidMenu(t *testing.T) {
	t.Parallel()
	h := newHarness(t, loadExample(t))
	ch := ivrtest.NewChannel("en", inbound(true), ivrtest.Press("1"), ivrtest.Silence(), ivrtest.Hangup())
	out, err := h.run(t, "pharmacy", ch)
	if err != nil || out.Kind != ivr.OutcomeHangup || !out.CallerHangup || out.Node != "main_menu" || ch.HungUp() {
		t.Fatalf("outcome %+v err %v", out, err)
	}
	wantStrings(t, "exits", h.events.ExitStrings(), []string{"welcome=ok", "language=option:1", "emergency=ok", "hours=open", "main_menu=hangup"})
}

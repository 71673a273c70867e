package ivrtest

import "github.com/careline/careline/ivr"

// PharmacySpanishRefill is a run of the example pharmacy flow
// (configs/careline.yaml, flow "pharmacy") during opening hours: the caller
// presses 2 for Spanish at the language menu, 1 (refill) at the main menu, then
// keys the prescription number rx (6 to 10 digits) followed by #; the flow reads
// the number back and hangs up. It returns the caller's script and the node exits
// the interaction log must hold, in order. The clock must be within the pharmacy
// schedule's opening hours (e.g. a Monday at 10:00 America/Chicago).
func PharmacySpanishRefill(rx string) (script []Step, exits []ivr.NodeExit) {
	script = []Step{Press("2"), Press("1"), Press(rx + "#")}
	exits = []ivr.NodeExit{
		{Flow: "pharmacy", Node: "welcome", Kind: "play", Exit: "ok"},
		{Flow: "pharmacy", Node: "language", Kind: "menu", Exit: "option:2"}, // language → es (interaction patched)
		{Flow: "pharmacy", Node: "emergency", Kind: "play", Exit: "ok"},
		{Flow: "pharmacy", Node: "hours", Kind: "branch_hours", Exit: "open"},
		{Flow: "pharmacy", Node: "main_menu", Kind: "menu", Exit: "option:1"},
		{Flow: "pharmacy", Node: "refill", Kind: "collect", Exit: "ok"}, // then a refill.requested event
		{Flow: "pharmacy", Node: "refill_received", Kind: "say", Exit: "ok"},
		{Flow: "pharmacy", Node: "goodbye", Kind: "hangup", Exit: "ok"},
	}
	return script, exits
}

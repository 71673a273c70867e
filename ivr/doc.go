// Package ivr runs bilingual (English/Spanish) IVR flows, described in YAML, against a small Channel interface that a call implements.
//
// A flow (config.Flow) is a graph of named nodes; Interpreter.Run walks it on the
// call's goroutine, logs an ivr.node_exit event per node (never raw digits) and
// returns an Outcome: hang-up, queue, transfer, voicemail, call-back or error.
// Validate checks flows statically (references, reachability, loops with no way
// out, prompts in every language, schedules, digit bounds, languages) and reports
// config.Issues with YAML paths that the loader turns into file:line.
// Subpackages: say (numbers and dates as prompt fragments), calendar (business
// hours), prompts (manifest and renderer), ivrtest (test doubles).
package ivr

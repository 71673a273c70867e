package call

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/careline/careline/routing"
	"github.com/careline/careline/sip"
)

type fakeDialErr struct {
	kind   sip.ErrorKind
	status int
}

func (e fakeDialErr) Error() string       { return fmt.Sprintf("dial %v %d", e.kind, e.status) }
func (e fakeDialErr) Kind() sip.ErrorKind { return e.kind }
func (e fakeDialErr) SIPStatus() int      { return e.status }
func (e fakeDialErr) Retryable() bool     { return false }
func (e fakeDialErr) MetricLabel() string { return e.kind.String() }
func wrapped(e error) error               { return fmt.Errorf("call: %w", e) }
func res(o routing.Outcome, r string) routing.OfferResult {
	return routing.OfferResult{Outcome: o, Reason: r}
}

func TestDialOutcome(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want routing.OfferResult
	}{
		{fmt.Errorf("%w: x", ErrNoCommonCodec), res(routing.Failed, routing.ReasonNoCodec)},
		{context.Canceled, res(routing.NoAnswer, "")},
		{wrapped(fakeDialErr{sip.KindBusy, 486}), res(routing.Rejected, "")},
		{wrapped(fakeDialErr{sip.KindNoAnswer, 480}), res(routing.NoAnswer, "")},
		{wrapped(fakeDialErr{sip.KindCancelled, 0}), res(routing.NoAnswer, "")},
		{wrapped(fakeDialErr{sip.KindRejected, 603}), res(routing.Rejected, "")},
		{wrapped(fakeDialErr{sip.KindRejected, 404}), res(routing.Failed, routing.ReasonUnreachable)},
		{wrapped(fakeDialErr{sip.KindUnreachable, 503}), res(routing.Failed, routing.ReasonUnreachable)},
		{wrapped(fakeDialErr{sip.KindTimeout, 0}), res(routing.Failed, routing.ReasonUnreachable)},
		{errors.New("something else"), res(routing.Failed, routing.ReasonUnreachable)},
	} {
		if got := dialOutcome(tc.err); got != tc.want {
			t.Errorf("dialOutcome(%v) = %+v, want %+v", tc.err, got, tc.want)
		}
	}
}

func TestReferTarget(t *testing.T) {
	for in, want := range map[string]string{
		"<sip:pharmacist@10.0.0.1>":            "pharmacist",
		"sip:billing@careline;transport=udp":   "billing",
		"<sips:nurse@h?Replaces=abc>":          "nurse",
		"  <sip:coordinator@127.0.0.1:5060>  ": "coordinator",
	} {
		if got := referTarget(in); got != want {
			t.Errorf("referTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMonitorCodesAndMatrix(t *testing.T) {
	for dialed, want := range map[string]string{"*511001": "listen 1001", "*521002": "whisper 1002",
		"*531003": "barge 1003", "*51": "", "*41": "", "1001": ""} {
		mode, ext, ok := MonitorCode(dialed)
		got := ""
		if ok {
			got = string(mode) + " " + ext
		}
		if got != want {
			t.Errorf("MonitorCode(%q) = %q, want %q", dialed, got, want)
		}
	}
	// patient 0, agent 1, supervisor 2: who hears the supervisor?
	for mode, want := range map[MonitorMode][2]bool{Listen: {false, false}, Whisper: {false, true}, Barge: {true, true}} {
		m := hearsMatrix(mode)
		if got := [2]bool{m[0][2], m[1][2]}; got != want || !m[2][0] || !m[2][1] || !m[0][1] || !m[1][0] {
			t.Errorf("%s: matrix %v", mode, m)
		}
	}
}

func TestTransferPrompt(t *testing.T) {
	if transferPrompt("nurse") != "transfer/nurse" || transferPrompt("weird") != "transfer/generic" {
		t.Fatal("transfer prompts")
	}
}

package dialer

import "time"

// Disposition is how one attempt ended.
type Disposition string

// The dispositions.
const (
	Confirmed           Disposition = "confirmed"             // appointment confirmed
	Cancelled           Disposition = "cancelled"             // appointment cancelled
	RescheduleRequested Disposition = "reschedule-requested"  // wants another time (staff follow up)
	RefillRequested     Disposition = "refill-requested"      // pressed the refill key
	Transferred         Disposition = "transferred"           // handed to the pharmacy/staff
	VoicemailLeft       Disposition = "voicemail-left"        // minimum-necessary message after the beep
	NoAnswer            Disposition = "no-answer"             // rang out, or a machine with no message left
	Busy                Disposition = "busy"                  // 486/600
	Failed              Disposition = "failed"                // network failure, or unknown outcome after a crash
	OptedOut            Disposition = "opted-out"             // pressed the opt-out key
	WrongNumber         Disposition = "wrong-number"          // the person is not the patient
	BlockedByCompliance Disposition = "blocked-by-compliance" // the gate refused the dial
	Abandoned           Disposition = "abandoned"             // live answer, no agent within 2 s
)

// Dispositions lists every disposition (metric label values).
var Dispositions = [...]Disposition{Confirmed, Cancelled, RescheduleRequested, RefillRequested, Transferred,
	VoicemailLeft, NoAnswer, Busy, Failed, OptedOut, WrongNumber, BlockedByCompliance, Abandoned}

// Valid reports whether d is one of the dispositions.
func (d Disposition) Valid() bool {
	for _, x := range Dispositions {
		if d == x {
			return true
		}
	}
	return false
}

// Final reports whether the contact is finished after d (no retry).
func (d Disposition) Final() bool {
	switch d {
	case NoAnswer, Busy, Failed, Abandoned:
		return false
	}
	return true
}

// RetryPolicy is the wait before the next attempt after a non-final disposition.
type RetryPolicy struct {
	NoAnswer  time.Duration
	Busy      time.Duration
	Machine   time.Duration // machine answered and no voicemail was left
	Failed    time.Duration
	Abandoned time.Duration
}

// Delay returns the wait after d; machine says an answering machine took the call.
func (p RetryPolicy) Delay(d Disposition, machine bool) time.Duration {
	switch {
	case machine && d == NoAnswer:
		return p.Machine
	case d == NoAnswer:
		return p.NoAnswer
	case d == Busy:
		return p.Busy
	case d == Abandoned:
		return p.Abandoned
	}
	return p.Failed
}

// Reason is a compliance gate's reason code: why a dial was allowed or refused.
type Reason string

// The reason codes.
const (
	ReasonAllowed       Reason = "allowed"
	ReasonOutsideWindow Reason = "outside_window" // outside 08:00-21:00 local ∩ state ∩ campaign ∩ pharmacy hours
	ReasonHoliday       Reason = "holiday"
	ReasonOptedOut      Reason = "opted_out"
	ReasonDailyCap      Reason = "daily_cap"
	ReasonWeeklyCap     Reason = "weekly_cap"
	ReasonMaxAttempts   Reason = "max_attempts"
	ReasonSpacing       Reason = "spacing"
	ReasonExpired       Reason = "expired" // the appointment is past
)

// Reasons lists every refusal reason (metric label values).
var Reasons = [...]Reason{ReasonOutsideWindow, ReasonHoliday, ReasonOptedOut, ReasonDailyCap, ReasonWeeklyCap,
	ReasonMaxAttempts, ReasonSpacing, ReasonExpired}

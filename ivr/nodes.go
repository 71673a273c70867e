package ivr

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/careline/careline/calendar"
	"github.com/careline/careline/internal/logx"
	"github.com/careline/careline/say"
)

// menu plays the greeting and waits for a key, FreeSWITCH style: an invalid key
// or a timeout plays the invalid/timeout prompt and the short greeting again, up to
// max_failures invalid entries (→ on_failure, exit max_failures) or max_timeouts
// timeouts (→ on_timeout, else on_failure, exit timeout). A repeat option replays
// the long greeting without counting a failure.
//
// With match, the menu collects up to match.max_digits keys (ended by the
// terminator or the inter-digit timeout); an entry equal to an option key takes the
// option, else an entry matching the pattern takes match.next. Without match, one
// key decides at once.
func (r *run) menu(ctx context.Context, cn *cnode) result {
	m := cn.n.Menu
	bargeIn := m.BargeIn == nil || *m.BargeIn
	timeout := orDuration(m.Timeout, DefaultTimeout)
	maxFailures := orInt(m.MaxFailures, DefaultMaxFailures)
	maxTimeouts := orInt(m.MaxTimeouts, maxFailures)
	spec := CollectSpec{Max: 1, Min: 1, FirstDigitTimeout: timeout, InterDigitTimeout: orDuration(m.InterDigitTimeout, timeout/2)}
	if m.Match != nil {
		spec.Max = orInt(m.Match.MaxDigits, DefaultMatchDigits)
		spec.Terminators = orString(m.Terminator, DefaultTerminator)
	}
	long := playIn(m.Prompts, m.PlayIn)
	short := long
	if len(m.ShortPrompts) > 0 {
		short = playIn(m.ShortPrompts, m.PlayIn)
	}
	failures, timeouts := 0, 0
	counts := func() map[string]any {
		d := map[string]any{}
		if failures > 0 {
			d["failures"] = failures
		}
		if timeouts > 0 {
			d["timeouts"] = timeouts
		}
		return d
	}
	greeting := long
	for {
		if err := r.playRefs(ctx, greeting, bargeIn); err != nil {
			return r.fail(ctx, cn, err)
		}
		d, err := r.ch.Collect(ctx, spec)
		if err != nil {
			return r.fail(ctx, cn, err)
		}
		key := d.Value
		switch {
		case key == "" && d.End == DigitsTimeout:
			timeouts++
			if timeouts >= maxTimeouts {
				if m.OnTimeout != "" {
					return result{exit: "timeout", next: m.OnTimeout, detail: counts()}
				}
				if err := r.play(ctx, m.FailurePrompts, false); err != nil {
					return r.fail(ctx, cn, err)
				}
				return result{exit: "timeout", next: m.OnFailure, detail: counts()}
			}
			if err := r.play(ctx, menuTimeout(m), bargeIn); err != nil {
				return r.fail(ctx, cn, err)
			}
			greeting = short
			continue
		case key != "":
			if o, ok := m.Options[key]; ok && o != nil {
				if o.Repeat {
					greeting = long
					continue
				}
				return result{exit: "option:" + key, next: o.Next, lang: o.SetLanguage, normal: true, detail: counts()}
			}
			if cn.re != nil && cn.re.MatchString(key) {
				if m.Match.Into != "" {
					r.vars[m.Match.Into] = key
				}
				d := counts()
				d["entry"] = logx.DigitsCategory(key)
				return result{exit: "match", next: m.Match.Next, normal: true, detail: d}
			}
		}
		failures++
		if failures >= maxFailures {
			if err := r.play(ctx, m.FailurePrompts, false); err != nil {
				return r.fail(ctx, cn, err)
			}
			return result{exit: "max_failures", next: m.OnFailure, detail: counts()}
		}
		if err := r.play(ctx, menuInvalid(m), bargeIn); err != nil {
			return r.fail(ctx, cn, err)
		}
		greeting = short
	}
}

func (r *run) playNode(ctx context.Context, cn *cnode) result {
	p := cn.n.Play
	if err := r.playRefs(ctx, playIn(p.Prompts, p.PlayIn), p.BargeIn); err != nil {
		return r.fail(ctx, cn, err)
	}
	return result{exit: "ok", next: cn.n.Next, normal: true}
}

// collect asks for an entry up to max_attempts times. An entry is valid when it has
// min_digits..max_digits keys 0-9 and passes validate: length (nothing more), luhn
// (the last digit is a Luhn check digit) or regex (the whole entry matches).
func (r *run) collect(ctx context.Context, cn *cnode) result {
	x := cn.n.Collect
	bargeIn := x.BargeIn == nil || *x.BargeIn
	timeout := orDuration(x.Timeout, DefaultTimeout)
	lo, hi := orInt(x.MinDigits, 1), orInt(x.MaxDigits, DefaultCollectMax)
	spec := CollectSpec{Max: hi, Min: lo, Terminators: orString(x.Terminator, DefaultTerminator),
		FirstDigitTimeout: timeout, InterDigitTimeout: orDuration(x.InterDigitTimeout, timeout/2)}
	maxAttempts := orInt(x.MaxAttempts, DefaultMaxAttempts)
	invalid, timeouts := 0, 0
	for attempt := 1; ; attempt++ {
		if err := r.play(ctx, x.Prompts, bargeIn); err != nil {
			return r.fail(ctx, cn, err)
		}
		d, err := r.ch.Collect(ctx, spec)
		if err != nil {
			return r.fail(ctx, cn, err)
		}
		timedOut := d.Value == "" && d.End == DigitsTimeout
		if !timedOut && validEntry(d.Value, lo, hi, x.Validate, cn) {
			r.vars[x.Into] = d.Value
			det := map[string]any{"entry": logx.DigitsCategory(d.Value), "attempts": attempt}
			return result{exit: "ok", next: cn.n.Next, normal: true, detail: det}
		}
		if timedOut {
			timeouts++
		} else {
			invalid++
		}
		if attempt >= maxAttempts {
			if err := r.play(ctx, x.FailurePrompts, false); err != nil {
				return r.fail(ctx, cn, err)
			}
			return result{exit: "max_failures", next: x.OnFailure,
				detail: map[string]any{"attempts": attempt, "failures": invalid, "timeouts": timeouts}}
		}
		again := collectInvalid(x)
		if timedOut {
			again = collectTimeout(x)
		}
		if err := r.play(ctx, again, bargeIn); err != nil {
			return r.fail(ctx, cn, err)
		}
	}
}

func validEntry(v string, lo, hi int, how string, cn *cnode) bool {
	if len(v) < lo || len(v) > hi {
		return false
	}
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	switch how {
	case "luhn":
		return Luhn(v)
	case "regex":
		return cn.re != nil && cn.re.MatchString(v)
	}
	return true
}

// Luhn reports whether the last digit of s is the Luhn (mod 10) check digit of the
// others. s must be digits only, at least two.
func Luhn(s string) bool {
	if len(s) < 2 {
		return false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[len(s)-1-i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func (r *run) sayLang() say.Lang {
	l, err := say.ParseLang(r.ch.Language())
	if err != nil {
		return say.English
	}
	return l
}

// say plays before, the value's fragments and after as one playback. A missing or
// unreadable value skips the whole sentence (exit no_value) and goes on.
func (r *run) say(ctx context.Context, cn *cnode) result {
	s := cn.n.Say
	lang := r.sayLang()
	var frags []string
	var err error
	if s.As == "hours" {
		if cal := r.in.calendars[s.Schedule]; cal != nil {
			frags = hoursFragments(lang, cal)
		}
		if len(frags) == 0 {
			err = errNoValue
		}
	} else {
		v := s.Value
		if s.Var != "" {
			v = r.vars[s.Var]
		}
		frags, err = sayFragments(lang, s.As, v, r.in.loc)
	}
	if err != nil {
		r.log.Warn("ivr: nothing to say", "node", cn.name, "as", s.As, "var", s.Var) // never the value
		return result{exit: "no_value", next: cn.n.Next}
	}
	ids := append(append(append([]string{}, s.Before...), frags...), s.After...)
	if err := r.play(ctx, ids, s.BargeIn); err != nil {
		return r.fail(ctx, cn, err)
	}
	return result{exit: "ok", next: cn.n.Next, normal: true}
}

func (r *run) branchHours(ctx context.Context, cn *cnode) result {
	b := cn.n.BranchHours
	cal := r.in.calendars[b.Schedule]
	if cal == nil { // New checks this; a nil calendar map entry is still possible
		return result{exit: "error", out: &Outcome{Kind: OutcomeError, Reason: "schedule"},
			err: fmt.Errorf("ivr: node %s: schedule %q not loaded", cn.name, b.Schedule)}
	}
	st, _ := cal.Status(r.in.now())
	switch st.Reason {
	case calendar.ReasonOpen:
		return result{exit: "open", next: b.Open, normal: true}
	case calendar.ReasonHoliday:
		return result{exit: "holiday", next: or(b.Holiday, b.Closed), normal: true}
	case calendar.ReasonClosure:
		return result{exit: "closure", next: or(b.Closure, b.Closed), normal: true}
	}
	return result{exit: "closed", next: b.Closed, normal: true}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (r *run) branch(ctx context.Context, cn *cnode) result {
	b := cn.n.Branch
	if b.Lookup != nil {
		return r.lookupBranch(ctx, cn)
	}
	facts := r.ch.Facts()
	for i, c := range b.Cases {
		if r.caseHolds(c.Language, c.DID, c.Trunk, c.Direction, c.CallerID, c.Var, c.Equals, facts) {
			return result{exit: fmt.Sprintf("case:%d", i), next: c.Next, normal: true}
		}
	}
	return result{exit: "default", next: b.Default, normal: true}
}

func (r *run) caseHolds(lang, did, trunk, dir string, cid *bool, v, eq string, f Facts) bool {
	switch {
	case lang != "" && lang != r.ch.Language(),
		did != "" && did != f.DID,
		trunk != "" && trunk != f.Trunk,
		dir != "" && dir != f.Direction,
		cid != nil && *cid != f.CallerIDPresent:
		return false
	}
	if v != "" {
		val := r.vars[v]
		if val == "" || (eq != "" && val != eq) {
			return false
		}
	}
	return true
}

// lookupBranch asks the patient look-up hook, within the node's time limit. The
// hook runs on its own goroutine so that one that ignores ctx cannot hold the call
// past the limit.
func (r *run) lookupBranch(ctx context.Context, cn *cnode) result {
	l := cn.n.Branch.Lookup
	notFound := func(exit, alt string) result { return result{exit: exit, next: or(alt, l.NotFound), normal: true} }
	if r.in.lookup == nil {
		r.log.Warn("ivr: no patient look-up configured", "node", cn.name)
		return notFound("error", l.OnError)
	}
	lctx, cancel := context.WithTimeout(ctx, orDuration(l.Timeout, DefaultLookupLimit))
	defer cancel()
	type answer struct {
		res LookupResult
		err error
	}
	done := make(chan answer, 1)
	req := LookupRequest{InteractionID: r.call.InteractionID, Caller: r.call.Caller, Facts: r.ch.Facts(), Vars: maps.Clone(r.vars)}
	go func() {
		res, err := r.in.lookup(lctx, req)
		done <- answer{res, err}
	}()
	var a answer
	select {
	case a = <-done:
	case <-lctx.Done():
		a.err = lctx.Err()
	}
	if ctx.Err() != nil {
		return r.fail(ctx, cn, ctx.Err())
	}
	switch {
	case errors.Is(a.err, context.DeadlineExceeded) || (a.err != nil && lctx.Err() != nil):
		r.log.Warn("ivr: patient look-up timed out", "node", cn.name)
		return notFound("timeout", l.OnTimeout)
	case a.err != nil:
		r.log.Warn("ivr: patient look-up failed", "node", cn.name, "err", a.err)
		return notFound("error", l.OnError)
	case !a.res.Found:
		return notFound("not_found", "")
	}
	for k, v := range a.res.Vars {
		if varName.MatchString(k) {
			r.vars[k] = v
		}
	}
	res := result{exit: "found", next: l.Found, normal: true}
	for _, lang := range r.in.langs {
		if a.res.Language != "" && lang == a.res.Language {
			res.lang = lang
		}
	}
	return res
}

func (r *run) queue(ctx context.Context, cn *cnode) result {
	q := cn.n.Queue
	if err := r.play(ctx, q.Prompts, false); err != nil {
		return r.fail(ctx, cn, err)
	}
	req := &QueueRequest{Name: q.Name, Skills: append([]string(nil), q.Skills...), Language: r.ch.Language(),
		Priority: cn.priority, Reason: or(q.Reason, cn.name)}
	return result{exit: "ok", normal: true, out: &Outcome{Kind: OutcomeQueue, Queue: req}}
}

func (r *run) transfer(ctx context.Context, cn *cnode) result {
	t := cn.n.Transfer
	if err := r.play(ctx, t.Prompts, false); err != nil {
		return r.fail(ctx, cn, err)
	}
	err := r.ch.Transfer(ctx, t.Target)
	if err == nil {
		return result{exit: "ok", normal: true, out: &Outcome{Kind: OutcomeTransfer, Target: t.Target}}
	}
	if errors.Is(err, ErrHangup) || ctx.Err() != nil {
		return r.fail(ctx, cn, err)
	}
	r.log.Warn("ivr: transfer failed", "node", cn.name, "target", logx.MaskURI(t.Target), "err", err)
	if err := r.play(ctx, []string{sorryPrompt}, false); err != nil {
		return r.fail(ctx, cn, err)
	}
	if t.OnFailure != "" {
		return result{exit: "failed", next: t.OnFailure}
	}
	return result{exit: "failed", out: &Outcome{Kind: OutcomeError, Reason: "transfer"},
		err: fmt.Errorf("%w: %w", ErrTransfer, err)}
}

// voicemailSaveLimit bounds saving a message after the caller has hung up.
const voicemailSaveLimit = 30 * time.Second

// voicemailNode plays the instructions and the beep, records, and saves the
// message. Without a store it apologises before recording (the caller must not
// talk into the void) and takes on_failure.
func (r *run) voicemailNode(ctx context.Context, cn *cnode) result {
	v := cn.n.Voicemail
	failed := func(exit string, err error) result {
		if v.OnFailure != "" {
			return result{exit: exit, next: v.OnFailure}
		}
		if err == nil {
			r.hangupChannel(ctx)
			return result{exit: exit, out: &Outcome{Kind: OutcomeHangup}}
		}
		return result{exit: exit, out: &Outcome{Kind: OutcomeError, Reason: "voicemail"}, err: err}
	}
	if r.in.voicemail == nil {
		r.log.Error("ivr: voicemail requested but no voicemail store is configured", "node", cn.name)
		if err := r.play(ctx, []string{sorryPrompt}, false); err != nil {
			return r.fail(ctx, cn, err)
		}
		return failed("unavailable", ErrNoVoicemailStore)
	}
	if err := r.play(ctx, append(append([]string{}, vmPrompts(v)...), vmBeep(v)), false); err != nil {
		return r.fail(ctx, cn, err)
	}
	rec, err := r.ch.Record(ctx, RecordSpec{
		MaxDuration: orDuration(v.MaxLength, DefaultVoicemailMax),
		Silence:     orDuration(v.Silence, DefaultSilence),
		Terminators: orString(v.Terminator, DefaultTerminator),
	})
	if err != nil {
		return r.fail(ctx, cn, err)
	}
	gone := rec.End == RecordHangup || ctx.Err() != nil
	if rec.Duration < orDuration(v.MinLength, DefaultVoicemailMin) {
		if gone {
			return result{exit: "no_message", out: &Outcome{Kind: OutcomeHangup, CallerHangup: true}}
		}
		if err := r.play(ctx, []string{noMessagePrompt}, false); err != nil {
			return r.fail(ctx, cn, err)
		}
		return failed("no_message", nil)
	}
	saveCtx := ctx
	if gone {
		var cancel context.CancelFunc
		saveCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), voicemailSaveLimit)
		defer cancel()
	}
	meta := VoicemailMeta{InteractionID: r.call.InteractionID, Flow: r.flow.name, Node: cn.name,
		Box: or(v.Box, r.flow.name), Language: r.ch.Language(), Caller: r.call.Caller, At: r.in.now()}
	id, err := r.in.voicemail.Save(saveCtx, meta, rec)
	if err != nil {
		r.log.Error("ivr: voicemail not saved", "node", cn.name, "err", err)
		if gone {
			return result{exit: "failed", out: &Outcome{Kind: OutcomeError, Reason: "voicemail", CallerHangup: true},
				err: fmt.Errorf("%w: %w", ErrVoicemailStore, err)}
		}
		if err := r.play(ctx, []string{sorryPrompt}, false); err != nil {
			return r.fail(ctx, cn, err)
		}
		return failed("failed", fmt.Errorf("%w: %w", ErrVoicemailStore, err))
	}
	out := &Outcome{Kind: OutcomeVoicemail, VoicemailID: id, CallerHangup: gone}
	det := map[string]any{"seconds": int(rec.Duration / time.Second)}
	if !gone {
		if err := r.play(ctx, vmSaved(v), false); err != nil {
			out.CallerHangup = true // saved anyway
		} else {
			r.hangupChannel(ctx)
		}
	}
	return result{exit: "saved", normal: true, out: out, detail: det}
}

// callback takes a call-back request: with a caller id, "press 1 to be called at
// this number, 2 to enter another"; then (or without one) the number is keyed in.
func (r *run) callback(ctx context.Context, cn *cnode) result {
	x := cn.n.CallbackRequest
	timeout := orDuration(x.Timeout, DefaultTimeout)
	maxAttempts := orInt(x.MaxAttempts, DefaultMaxAttempts)
	lo, hi := orInt(x.MinDigits, DefaultCallbackMin), orInt(x.MaxDigits, DefaultCallbackMax)
	giveUp := func(attempts int) result {
		det := map[string]any{"attempts": attempts}
		if x.OnFailure != "" {
			return result{exit: "max_failures", next: x.OnFailure, detail: det}
		}
		r.hangupChannel(ctx)
		return result{exit: "max_failures", out: &Outcome{Kind: OutcomeHangup}, detail: det}
	}
	done := func(exit string, req *CallbackRequest) result {
		if err := r.play(ctx, cbConfirmed(x), false); err == nil {
			r.hangupChannel(ctx)
		}
		return result{exit: exit, normal: true, out: &Outcome{Kind: OutcomeCallback, Callback: req, CallerHangup: ctx.Err() != nil}}
	}
	attempts := 0
	if r.call.Caller != "" && r.ch.Facts().CallerIDPresent {
		for {
			if err := r.play(ctx, cbConfirm(x), true); err != nil {
				return r.fail(ctx, cn, err)
			}
			d, err := r.ch.Collect(ctx, CollectSpec{Max: 1, Min: 1, FirstDigitTimeout: timeout, InterDigitTimeout: timeout / 2})
			if err != nil {
				return r.fail(ctx, cn, err)
			}
			if d.Value == "1" {
				return done("caller_id", &CallbackRequest{Number: r.call.Caller, FromCallerID: true, Consent: true})
			}
			if d.Value == "2" {
				break
			}
			attempts++
			if attempts >= maxAttempts {
				return giveUp(attempts)
			}
			if err := r.play(ctx, cbInvalid(x), true); err != nil {
				return r.fail(ctx, cn, err)
			}
		}
	}
	attempts = 0
	spec := CollectSpec{Max: hi, Min: lo, Terminators: "#", FirstDigitTimeout: timeout, InterDigitTimeout: timeout / 2}
	for {
		if err := r.play(ctx, cbEnter(x), true); err != nil {
			return r.fail(ctx, cn, err)
		}
		d, err := r.ch.Collect(ctx, spec)
		if err != nil {
			return r.fail(ctx, cn, err)
		}
		if validEntry(d.Value, lo, hi, "length", nil) {
			return done("entered", &CallbackRequest{Number: d.Value, Consent: true})
		}
		attempts++
		if attempts >= maxAttempts {
			return giveUp(attempts)
		}
		if err := r.play(ctx, cbInvalid(x), true); err != nil {
			return r.fail(ctx, cn, err)
		}
	}
}

func (r *run) hangup(ctx context.Context, cn *cnode) result {
	if err := r.play(ctx, cn.n.Hangup.Prompts, false); err != nil {
		return r.fail(ctx, cn, err)
	}
	r.hangupChannel(ctx)
	return result{exit: "ok", normal: true, out: &Outcome{Kind: OutcomeHangup}}
}

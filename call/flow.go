package call

import (
	"context"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/store"
)

// OutcomeHandler acts on what a flow decided when the call is still live (queue to
// staff, request a call back, recover from an error).
type OutcomeHandler interface {
	HandleOutcome(ctx context.Context, c *Call, o ivr.Outcome) error
}

// FlowApp runs an IVR flow on the call, then hands a live outcome to Outcomes.
type FlowApp struct {
	Interp   *ivr.Interpreter
	Flow     string
	Outcomes OutcomeHandler
}

// Name implements App.
func (f FlowApp) Name() string { return "flow:" + f.Flow }

// Run implements App.
func (f FlowApp) Run(ctx context.Context, c *Call) error {
	o, err := f.Interp.Run(ctx, f.Flow, c, ivr.CallInfo{InteractionID: c.ID, Caller: c.leg.Remote().User})
	// How the flow ended, for reports (self-service completion, queue, voicemail, ...).
	c.LogEvent(store.Event{Type: "ivr.outcome", Detail: map[string]any{"flow": f.Flow, "node": o.Node,
		"outcome": o.Kind.String(), "caller_hangup": o.CallerHangup, "reason": o.Reason}})
	if o.CallerHangup {
		return nil
	}
	if err != nil {
		c.log.Error("flow failed", "flow", f.Flow, "node", o.Node, "reason", o.Reason, "err", err)
	}
	switch o.Kind {
	case ivr.OutcomeHangup, ivr.OutcomeVoicemail, ivr.OutcomeTransfer:
		return nil
	case ivr.OutcomeCallback:
		// The interpreter has hung up; the request still has to be scheduled.
		if f.Outcomes != nil {
			return f.Outcomes.HandleOutcome(context.WithoutCancel(ctx), c, o)
		}
		return nil
	}
	if f.Outcomes == nil {
		_, perr := c.PlayIDs(ctx, false, "common/technical_difficulty")
		return perr
	}
	return f.Outcomes.HandleOutcome(ctx, c, o)
}

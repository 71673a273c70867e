package call

import (
	"context"
	"strings"

	"github.com/careline/careline/media"
	"github.com/careline/careline/store"
)

// MonitorMode is how a supervisor joins an agent's call.
type MonitorMode string

// Monitoring modes.
const (
	Listen  MonitorMode = "listen"  // hears both, heard by nobody
	Whisper MonitorMode = "whisper" // hears both, heard by the agent only
	Barge   MonitorMode = "barge"   // three-way: everyone hears everyone
)

// Feature codes for supervisors, followed by the agent's extension: *511001 listens to
// the agent on extension 1001.
const (
	CodeListen  = "*51"
	CodeWhisper = "*52"
	CodeBarge   = "*53"
)

type activeCall struct {
	patient *Call
	agent   *agentLeg
	monitor chan *monitorReq
}

type monitorReq struct {
	sup        *Call
	supervisor string
	mode       MonitorMode
	done       chan struct{} // closed when monitoring ends (or is refused)
}

type monitoring struct {
	req     *monitorReq
	mix     *media.Mix
	cancel  context.CancelFunc
	ran     chan struct{}
	supDone <-chan struct{}
}

// hearsMatrix: participants are patient 0, agent 1, supervisor 2.
func hearsMatrix(mode MonitorMode) [][]bool {
	m := [][]bool{
		{false, true, false}, // the patient hears the agent
		{true, false, false}, // the agent hears the patient
		{true, true, false},  // the supervisor hears both
	}
	switch mode {
	case Whisper:
		m[1][2] = true
	case Barge:
		m[0][2], m[1][2] = true, true
	}
	return m
}

func startMonitoring(ctx context.Context, c *Call, leg *agentLeg, req *monitorReq, opts media.BridgeOptions) (*monitoring, error) {
	mix, err := media.NewMix([]media.MixParticipant{
		{Name: "patient", Session: c.sess, Tap: opts.TapA},
		{Name: "agent", Session: leg.c.sess, Tap: opts.TapB},
		{Name: "supervisor", Session: req.sup.sess},
	}, hearsMatrix(req.mode))
	if err != nil {
		return nil, err
	}
	mctx, cancel := context.WithCancel(ctx)
	m := &monitoring{req: req, mix: mix, cancel: cancel, ran: make(chan struct{}), supDone: req.sup.Done()}
	go func() {
		defer close(m.ran)
		mix.Run(mctx)
	}()
	return m, nil
}

func (m *monitoring) stop() {
	m.cancel()
	<-m.ran
	close(m.req.done)
}

// Monitor is the App a supervisor reaches with *51/*52/*53 + an agent's extension.
type Monitor struct {
	ACD  *ACD
	Code string // the dialed number
}

// Name implements App.
func (Monitor) Name() string { return "monitor" }

// MonitorCode splits a dialed number into a mode and an extension.
func MonitorCode(dialed string) (MonitorMode, string, bool) {
	for code, mode := range map[string]MonitorMode{CodeListen: Listen, CodeWhisper: Whisper, CodeBarge: Barge} {
		if ext, ok := strings.CutPrefix(dialed, code); ok && ext != "" {
			return mode, ext, true
		}
	}
	return "", "", false
}

// Run implements App.
func (m Monitor) Run(ctx context.Context, c *Call) error {
	a := m.ACD
	mode, ext, ok := MonitorCode(m.Code)
	sup, isUser := a.AgentID(c.leg.Source().User)
	if !ok || !isUser || !a.isSupervisor(sup) {
		_, err := c.PlayIDs(ctx, false, "agent/invalid_code")
		return err
	}
	agentID, known := a.AgentID(ext)
	a.mu.Lock()
	ac := a.active[agentID]
	a.mu.Unlock()
	if !known || ac == nil {
		_, err := c.PlayIDs(ctx, false, "agent/invalid_code")
		return err
	}
	req := &monitorReq{sup: c, supervisor: sup, mode: mode, done: make(chan struct{})}
	c.LogEvent(store.Event{Type: "monitor.requested", Detail: map[string]any{"mode": string(mode), "agent": agentID}})
	select {
	case ac.monitor <- req:
	case <-ac.patient.Done():
		return nil
	case <-ctx.Done():
		return nil
	}
	select {
	case <-req.done: // the monitored call ended, or monitoring was refused
	case <-ctx.Done():
	}
	return nil
}

func (a *ACD) isSupervisor(agentID string) bool {
	ag := a.o.Config.Agents[agentID]
	return ag != nil && ag.Supervisor
}

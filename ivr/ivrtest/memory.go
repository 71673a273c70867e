package ivrtest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/careline/careline/ivr"
	"github.com/careline/careline/store"
)

// SavedVoicemail is one message kept by Voicemails.
type SavedVoicemail struct {
	ID   string
	Meta ivr.VoicemailMeta
	Rec  ivr.Recording
}

// Voicemails is an in-memory ivr.VoicemailStore for tests (not encrypted: never
// use it with real calls).
type Voicemails struct {
	mu    sync.Mutex
	saved []SavedVoicemail
	err   error
}

// Fail makes Save return err.
func (v *Voicemails) Fail(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.err = err
}

// Save implements ivr.VoicemailStore.
func (v *Voicemails) Save(ctx context.Context, meta ivr.VoicemailMeta, rec ivr.Recording) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.err != nil {
		return "", v.err
	}
	id := fmt.Sprintf("vm-%d", len(v.saved)+1)
	v.saved = append(v.saved, SavedVoicemail{ID: id, Meta: meta, Rec: rec})
	return id, nil
}

// Saved returns the messages saved so far.
func (v *Voicemails) Saved() []SavedVoicemail {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.saved)
}

// Events records interaction events (an ivr.EventLog).
type Events struct {
	mu  sync.Mutex
	evs []store.Event
}

// Append implements ivr.EventLog.
func (e *Events) Append(ev store.Event) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.evs = append(e.evs, ev)
	return nil
}

// All returns the events so far.
func (e *Events) All() []store.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.evs)
}

// Types returns the event types so far, in order.
func (e *Events) Types() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, len(e.evs))
	for i, ev := range e.evs {
		out[i] = ev.Type
	}
	return out
}

// NodeExits returns the node exits so far.
func (e *Events) NodeExits() []ivr.NodeExit { return ivr.NodeExits(e.All()) }

// ExitStrings returns the node exits so far as "node=exit".
func (e *Events) ExitStrings() []string {
	var out []string
	for _, x := range e.NodeExits() {
		out = append(out, x.String())
	}
	return out
}

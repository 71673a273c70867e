package app

import (
	"context"

	"github.com/careline/careline/call"
	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr"
	"github.com/careline/careline/recordings"
	"github.com/google/uuid"
)

// recStarter applies each queue's recording policy (record: never|always|on_demand).
type recStarter struct {
	s   *recordings.Store
	cfg *config.Config
}

func (r recStarter) policy(queue string) string {
	if q := r.cfg.Queues[queue]; q != nil && q.Record != "" {
		return q.Record
	}
	return "never"
}

func (r recStarter) NoticeRequired(queue string) bool { return r.policy(queue) != "never" }

func (r recStarter) StartCall(ctx context.Context, iid uuid.UUID, queue, lang string) (call.Recorder, error) {
	rec, err := r.s.Start(ctx, recordings.Meta{InteractionID: iid, Kind: recordings.KindCall, Queue: queue, Language: lang})
	if err != nil {
		return nil, err
	}
	rec.ConsentNoticePlayed("main/recording_notice")
	if r.policy(queue) == "on_demand" {
		if err := rec.Pause("policy:on_demand"); err != nil {
			return nil, err
		}
	}
	return recorderAdapter{rec}, nil
}

type recorderAdapter struct{ *recordings.Recorder }

func (r recorderAdapter) Close(ctx context.Context) error {
	_, err := r.Recorder.Close(ctx)
	return err
}

// voicemailStore saves IVR and overflow voicemail through the encrypted recordings
// store (ivr.VoicemailStore).
type voicemailStore struct{ s *recordings.Store }

func (v voicemailStore) Save(ctx context.Context, m ivr.VoicemailMeta, rec ivr.Recording) (string, error) {
	id, err := v.s.SaveVoicemail(ctx, recordings.Meta{InteractionID: m.InteractionID, Kind: recordings.KindVoicemail,
		Box: m.Box, Language: m.Language}, rec.PCM)
	if err != nil {
		return "", err
	}
	return id.String(), nil
}

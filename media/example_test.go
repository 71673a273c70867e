package media_test

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/careline/careline/media"
)

// Example shows how a call layer wires one inbound leg: the process owns one allocator,
// one clock, one prompt cache; each leg gets a port, a session and a negotiator.
func Example() {
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	metrics, _ := media.NewMetrics(nil)
	alloc, _ := media.NewPortAllocator(netip.MustParseAddr("127.0.0.1"), 20000, 20999, media.WithRest(30*time.Second), media.WithMetrics(metrics))
	clock := media.NewClock(media.WithLogger(log), media.WithMetrics(metrics))
	go func() { _ = clock.Run(ctx) }()

	handleInvite := func(offer []byte) ([]byte, error) {
		port, err := alloc.Allocate(ctx)
		if err != nil {
			return nil, err // 503
		}
		sess, _ := media.NewSession(port, clock, media.WithTimeout(30*time.Second), media.WithLogger(log), media.WithMetrics(metrics))
		neg := media.NewNegotiator(media.SDPConfig{
			Addr: netip.MustParseAddr("192.0.2.10"), Port: sess.Port(),
			Codecs: []media.Codec{media.PCMU, media.PCMA}, DTMF: true,
		})
		answer, n, err := neg.Answer(offer)
		if errors.Is(err, media.ErrNoCommonCodec) || errors.Is(err, media.ErrBadSDP) {
			sess.Close()
			return nil, err // 488 / 400
		}
		_ = sess.Start(n)
		go func() {
			defer sess.Close()
			res, _ := sess.Play(ctx, media.PlayOptions{Prompts: []*media.Prompt{media.Tone(440, time.Second)}, StopOnDTMF: true})
			if res.Interrupted {
				<-sess.DTMF() // the digit that interrupted the prompt
			}
		}()
		return answer, nil
	}
	_ = handleInvite
}

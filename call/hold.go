package call

import (
	"context"
	"sync"

	"github.com/careline/careline/media"
)

// holdPlayer owns a waiting caller's playback: queued announcements, then music on a
// loop until the next announcement or stop.
type holdPlayer struct {
	c      *Call
	music  []*media.Prompt
	cmds   chan []*media.Prompt
	mu     sync.Mutex
	cutMus context.CancelFunc
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func startHold(ctx context.Context, c *Call, intro []*media.Prompt, music *media.Prompt) *holdPlayer {
	ctx, cancel := context.WithCancel(ctx)
	p := &holdPlayer{c: c, music: []*media.Prompt{music}, cmds: make(chan []*media.Prompt, 4), cancel: cancel,
		done: make(chan struct{})}
	if len(intro) > 0 {
		p.cmds <- intro
	}
	go p.run(ctx)
	return p
}

func (p *holdPlayer) run(ctx context.Context) {
	defer close(p.done)
	for ctx.Err() == nil {
		select {
		case seq := <-p.cmds:
			_, _ = p.c.sess.Play(ctx, media.PlayOptions{Prompts: seq})
			continue
		default:
		}
		mctx, cut := context.WithCancel(ctx)
		p.mu.Lock()
		p.cutMus = cut
		pending := len(p.cmds) > 0
		p.mu.Unlock()
		if !pending {
			_, _ = p.c.sess.Play(mctx, media.PlayOptions{Prompts: p.music, Loop: true})
		}
		cut()
	}
}

// announce plays seq next (interrupting the music), then the music resumes.
func (p *holdPlayer) announce(seq []*media.Prompt) {
	select {
	case p.cmds <- seq:
	default:
	}
	p.mu.Lock()
	if p.cutMus != nil {
		p.cutMus()
	}
	p.mu.Unlock()
}

// stop ends playback and waits for the player to finish.
func (p *holdPlayer) stop() {
	p.once.Do(func() {
		p.cancel()
		<-p.done
	})
}

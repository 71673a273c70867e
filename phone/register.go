package phone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	sipmsg "github.com/emiago/sipgo/sip"
)

// registration is the REGISTER dialog state: one Call-ID and From tag for the phone's
// life, CSeq increasing across refreshes (RFC 3261 §10.2.4).
type registration struct {
	mu         sync.Mutex // serialises REGISTER transactions
	callID     string
	tag        string
	cseq       uint32
	registered bool
	expires    time.Time
	stop       context.CancelFunc
	stopped    chan struct{}
}

// Register registers the phone's contact for Config.User at Config.Registrar, answering
// the registrar's digest challenge with Config.Password, and keeps it refreshed (at half
// the granted expiry) until Unregister or Close. A wrong password is an error matching
// ErrUnauthorized.
func (p *Phone) Register(ctx context.Context) error {
	if p.cfg.Registrar == "" {
		return errors.New("phone: Register needs Config.Registrar")
	}
	granted, err := p.register(ctx, p.o.expires)
	if err != nil {
		return err
	}
	p.startRefresh(granted)
	return nil
}

// Registered reports whether the last REGISTER succeeded and has not expired.
func (p *Phone) Registered() bool {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	return p.reg.registered && time.Now().Before(p.reg.expires)
}

// Unregister removes our binding (REGISTER with Expires: 0) and stops refreshing.
func (p *Phone) Unregister(ctx context.Context) error {
	p.stopRefresh()
	_, err := p.register(ctx, 0)
	return err
}

func (p *Phone) startRefresh(granted time.Duration) {
	p.stopRefresh()
	ctx, cancel := context.WithCancel(p.ctx)
	stopped := make(chan struct{})
	p.reg.mu.Lock()
	p.reg.stop, p.reg.stopped = cancel, stopped
	p.reg.mu.Unlock()
	go func() {
		defer close(stopped)
		wait := refreshAfter(granted)
		for {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			rctx, rcancel := context.WithTimeout(ctx, 32*time.Second)
			g, err := p.register(rctx, p.o.expires)
			rcancel()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				p.log.Warn("phone: registration refresh failed; retrying", "err", err)
				wait = 5 * time.Second
				continue
			}
			wait = refreshAfter(g)
		}
	}()
}

func refreshAfter(granted time.Duration) time.Duration {
	return max(granted/2, time.Second)
}

func (p *Phone) stopRefresh() {
	p.reg.mu.Lock()
	stop, stopped := p.reg.stop, p.reg.stopped
	p.reg.stop, p.reg.stopped = nil, nil
	p.reg.mu.Unlock()
	if stop != nil {
		stop()
		<-stopped
	}
}

// register sends one REGISTER (plus a digest retry, plus one 423 retry) and returns the
// expiry the registrar granted.
func (p *Phone) register(ctx context.Context, expires time.Duration) (time.Duration, error) {
	p.reg.mu.Lock()
	defer p.reg.mu.Unlock()
	host, portStr, err := net.SplitHostPort(p.cfg.Registrar)
	if err != nil {
		return 0, fmt.Errorf("phone: registrar %q: %w", p.cfg.Registrar, err)
	}
	port, _ := strconv.Atoi(portStr)
	for try := 0; try < 2; try++ {
		p.reg.cseq++
		req := p.newRegister(sipmsg.Uri{Scheme: "sip", Host: host, Port: port}, expires)
		res, err := p.cli.Do(ctx, req, sipgo.ClientRequestBuild)
		if err != nil {
			return 0, fmt.Errorf("phone: REGISTER: %w", err)
		}
		if (res.StatusCode == 401 || res.StatusCode == 407) && p.cfg.Password != "" {
			res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: p.cfg.AuthUser, Password: p.cfg.Password})
			if err != nil {
				return 0, fmt.Errorf("phone: REGISTER (digest): %w", err)
			}
			p.reg.cseq = req.CSeq().SeqNo
		}
		switch {
		case res.StatusCode == 423 && try == 0 && expires > 0:
			if h := res.GetHeader("Min-Expires"); h != nil {
				if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
					expires = time.Duration(n) * time.Second
					continue
				}
			}
		case res.IsSuccess():
			if expires == 0 {
				p.reg.registered = false
				p.log.Info("phone unregistered")
				return 0, nil
			}
			granted := p.grantedExpiry(res, expires)
			p.reg.registered, p.reg.expires = true, time.Now().Add(granted)
			p.log.Info("phone registered", "expires", granted.String())
			return granted, nil
		}
		if expires > 0 {
			p.reg.registered = false
		}
		return 0, &StatusError{Method: "REGISTER", Code: res.StatusCode, Reason: res.Reason}
	}
	return 0, &StatusError{Method: "REGISTER", Code: 423, Reason: "Interval Too Brief"}
}

func (p *Phone) newRegister(ruri sipmsg.Uri, expires time.Duration) *sipmsg.Request {
	req := sipmsg.NewRequest(sipmsg.REGISTER, ruri)
	aor := sipmsg.Uri{Scheme: "sip", User: p.cfg.User, Host: p.domain}
	from := &sipmsg.FromHeader{DisplayName: p.cfg.DisplayName, Address: aor, Params: sipmsg.NewParams()}
	from.Params.Add("tag", p.reg.tag)
	to := &sipmsg.ToHeader{Address: aor, Params: sipmsg.NewParams()}
	cid := sipmsg.CallIDHeader(p.reg.callID)
	req.AppendHeader(from)
	req.AppendHeader(to)
	req.AppendHeader(&cid)
	req.AppendHeader(&sipmsg.CSeqHeader{SeqNo: p.reg.cseq, MethodName: sipmsg.REGISTER})
	req.AppendHeader(&sipmsg.ContactHeader{Address: p.contactURI()})
	exp := sipmsg.ExpiresHeader(uint32(expires / time.Second))
	req.AppendHeader(&exp)
	req.AppendHeader(sipmsg.NewHeader("User-Agent", p.o.userAgent))
	req.SetDestination(p.cfg.Registrar)
	return req
}

// grantedExpiry reads the expiry of our contact from a 200 to REGISTER (the Contact's
// expires parameter, else the Expires header, else what we asked for).
func (p *Phone) grantedExpiry(res *sipmsg.Response, asked time.Duration) time.Duration {
	ours := p.contactURI()
	for _, h := range res.GetHeaders("Contact") {
		c, ok := h.(*sipmsg.ContactHeader)
		if !ok || c.Address.User != ours.User || c.Address.Host != ours.Host || c.Address.Port != ours.Port {
			continue
		}
		if v, ok := c.Params.Get("expires"); ok {
			if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return asked
}

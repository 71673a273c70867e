package sip

import (
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// sessionTimer is a negotiated RFC 4028 session timer. refresher is "uac"
// or "uas" relative to the dialog-creating INVITE.
type sessionTimer struct {
	interval     time.Duration // 0: no session timer
	refresher    string
	peerSupports bool // the peer listed "timer" in Supported/Require
}

func (st sessionTimer) active() bool { return st.interval > 0 }

// parseSessionExpires reads Session-Expires (compact "x"): "1800;refresher=uac".
func parseSessionExpires(m sipmsg.Message) (time.Duration, string, bool) {
	h := firstHeader(m, "Session-Expires", "x")
	if h == nil {
		return 0, "", false
	}
	parts := strings.Split(h.Value(), ";")
	n, err := strconv.ParseUint(strings.TrimSpace(parts[0]), 10, 32)
	if err != nil || n == 0 {
		return 0, "", false
	}
	ref := ""
	for _, p := range parts[1:] {
		kv := strings.SplitN(strings.TrimSpace(p), "=", 2)
		if len(kv) == 2 && strings.EqualFold(strings.TrimSpace(kv[0]), "refresher") {
			ref = strings.ToLower(strings.TrimSpace(kv[1]))
		}
	}
	if ref != "uac" && ref != "uas" {
		ref = ""
	}
	return time.Duration(n) * time.Second, ref, true
}

func parseMinSE(m sipmsg.Message) (time.Duration, bool) {
	h := firstHeader(m, "Min-SE")
	if h == nil {
		return 0, false
	}
	v := strings.TrimSpace(strings.SplitN(h.Value(), ";", 2)[0])
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func supportsTimer(m sipmsg.Message) bool {
	for _, t := range headerTokens(m, "Supported", "k", "Require") {
		if t == "timer" {
			return true
		}
	}
	return false
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

// sessionTimerForInvite applies RFC 4028 as UAS to a dialog-creating INVITE:
// no Session-Expires means no timer; one below our Min-SE gets 422.
func (s *Server) sessionTimerForInvite(req *sipmsg.Request) (sessionTimer, *Rejection) {
	se, ref, ok := parseSessionExpires(req)
	if !ok {
		return sessionTimer{}, nil
	}
	if se < s.cfg.MinSE {
		return sessionTimer{}, reject(422, "Session Interval Too Small",
			sipmsg.NewHeader("Min-SE", seconds(s.cfg.MinSE)))
	}
	st := sessionTimer{interval: se, refresher: ref, peerSupports: supportsTimer(req)}
	switch {
	case !st.peerSupports:
		st.refresher = "uas" // a UAC without timer support cannot refresh
	case st.refresher == "":
		st.refresher = "uac"
	}
	return st, nil
}

// headers returns Session-Expires (+ Require: timer when the peer supports
// it) for a 2xx.
func (st sessionTimer) responseHeaders() []sipmsg.Header {
	if !st.active() {
		return nil
	}
	hs := []sipmsg.Header{sipmsg.NewHeader("Session-Expires", seconds(st.interval)+";refresher="+st.refresher)}
	if st.peerSupports {
		hs = append(hs, sipmsg.NewHeader("Require", "timer"))
	}
	return hs
}

// refreshDeadline is when the non-refresher gives up (RFC 4028 §10:
// SE - min(32 s, SE/3)).
func (st sessionTimer) expiryAfter() time.Duration {
	return st.interval - min(32*time.Second, st.interval/3)
}

// firstHeader returns the first header with one of names, or nil.
func firstHeader(m sipmsg.Message, names ...string) sipmsg.Header {
	for _, n := range names {
		if hs := m.GetHeaders(n); len(hs) > 0 {
			return hs[0]
		}
	}
	return nil
}

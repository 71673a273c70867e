package sip

import (
	"bytes"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// Methods careline answers. Allow lists them; a known method outside this
// list gets 405, an unknown one 501 (RFC 3261 §8.2.1). Both carry Allow.
var allowedMethods = []string{"INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "REGISTER", "INFO", "UPDATE", "REFER", "NOTIFY"}

// knownMethods are the methods of RFC 3261 and its common extensions.
var knownMethods = map[string]struct{}{
	"INVITE": {}, "ACK": {}, "CANCEL": {}, "BYE": {}, "OPTIONS": {}, "REGISTER": {},
	"INFO": {}, "UPDATE": {}, "REFER": {}, "NOTIFY": {}, "SUBSCRIBE": {}, "MESSAGE": {},
	"PRACK": {}, "PUBLISH": {},
}

var allowed = func() map[string]bool {
	m := make(map[string]bool, len(allowedMethods))
	for _, v := range allowedMethods {
		m[v] = true
	}
	return m
}()

// supportedExtensions are the option tags careline implements (Require
// checks, Supported header).
var supportedExtensions = map[string]bool{"timer": true}

const (
	allowValue     = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, INFO, UPDATE, REFER, NOTIFY"
	acceptValue    = "application/sdp, application/dtmf-relay, application/dtmf, message/sipfrag"
	supportedValue = "timer"
)

// Rejection is the response Validate (or a policy stage) wants sent instead
// of processing a request.
type Rejection struct {
	Code    int
	Reason  string
	Headers []sipmsg.Header
}

func (r *Rejection) Error() string { return strconv.Itoa(r.Code) + " " + r.Reason }

func reject(code int, reason string, hdrs ...sipmsg.Header) *Rejection {
	return &Rejection{Code: code, Reason: reason, Headers: hdrs}
}

func allowHeader() sipmsg.Header { return sipmsg.NewHeader("Allow", allowValue) }

// Validate applies RFC 3261/4475 request checks that must pass before any
// business logic sees a request. It returns nil when the request may proceed.
// The order follows the RFC's preferences: version (505), mandatory and
// single-valued headers (400), method (501/405, before the CSeq-method
// mismatch so mismatch02 gets 501), CSeq method (400), Request-URI (416/400),
// Max-Forwards (483), Require (420), body type (415/406), malformed SDP (400).
// Callers must not answer an ACK even when it is rejected.
func Validate(req *sipmsg.Request) *Rejection {
	if req == nil {
		return reject(400, "Bad Request")
	}
	if req.SipVersion != "SIP/2.0" {
		return reject(505, "Version Not Supported")
	}
	if r := checkMandatoryHeaders(req); r != nil {
		return r
	}
	method := string(req.Method)
	if _, ok := knownMethods[method]; !ok {
		return reject(501, "Not Implemented", allowHeader())
	}
	if !allowed[method] {
		return reject(405, "Method Not Allowed", allowHeader())
	}
	if cs := req.CSeq(); string(cs.MethodName) != method {
		return reject(400, "Bad Request (CSeq method mismatch)")
	}
	switch req.Recipient.Scheme {
	case "sip", "sips":
	default:
		return reject(416, "Unsupported URI Scheme")
	}
	if req.Recipient.Host == "" {
		return reject(400, "Bad Request (Request-URI host)")
	}
	if req.Recipient.Headers.Length() > 0 {
		// RFC 4475 §3.1.2.11: never turn escaped URI headers into real ones.
		return reject(400, "Bad Request (headers in Request-URI)")
	}
	if mf := req.MaxForwards(); mf != nil && *mf == 0 && method != "OPTIONS" && method != "ACK" {
		// An OPTIONS with Max-Forwards 0 is answered by its final recipient
		// (RFC 3261 §11, §16.3); anything else would be forwarded by the B2BUA.
		return reject(483, "Too Many Hops")
	}
	if method != "ACK" && method != "CANCEL" {
		if unk := unsupportedRequire(req); len(unk) > 0 {
			return reject(420, "Bad Extension", sipmsg.NewHeader("Unsupported", strings.Join(unk, ", ")))
		}
	}
	if r := checkBody(req, method); r != nil {
		return r
	}
	if method == "INVITE" && req.Contact() == nil {
		return reject(400, "Bad Request (missing Contact)")
	}
	return nil
}

// checkMandatoryHeaders rejects requests missing Via/From/To/Call-ID/CSeq or
// carrying more than one of a single-valued header (RFC 4475 insuf, multi01,
// mcl01).
func checkMandatoryHeaders(req *sipmsg.Request) *Rejection {
	var via, from, to, callid, cseq, maxfwd, clen, ctype int
	for _, h := range req.Headers() {
		switch h.(type) {
		case *sipmsg.ViaHeader:
			via++
		case *sipmsg.FromHeader:
			from++
		case *sipmsg.ToHeader:
			to++
		case *sipmsg.CallIDHeader:
			callid++
		case *sipmsg.CSeqHeader:
			cseq++
		case *sipmsg.MaxForwardsHeader:
			maxfwd++
		case *sipmsg.ContentLengthHeader:
			clen++
		case *sipmsg.ContentTypeHeader:
			ctype++
		}
	}
	switch {
	case via == 0:
		return reject(400, "Bad Request (missing Via)")
	case from == 0:
		return reject(400, "Bad Request (missing From)")
	case to == 0:
		return reject(400, "Bad Request (missing To)")
	case callid == 0:
		return reject(400, "Bad Request (missing Call-ID)")
	case cseq == 0:
		return reject(400, "Bad Request (missing CSeq)")
	case from > 1:
		return reject(400, "Bad Request (multiple From)")
	case to > 1:
		return reject(400, "Bad Request (multiple To)")
	case callid > 1:
		return reject(400, "Bad Request (multiple Call-ID)")
	case cseq > 1:
		return reject(400, "Bad Request (multiple CSeq)")
	case maxfwd > 1:
		return reject(400, "Bad Request (multiple Max-Forwards)")
	case clen > 1:
		return reject(400, "Bad Request (multiple Content-Length)")
	case ctype > 1:
		return reject(400, "Bad Request (multiple Content-Type)")
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return reject(400, "Bad Request (Content-Length mismatch)")
	}
	if req.From().Params != nil {
		if _, ok := req.From().Params.Get("tag"); !ok && req.Method != sipmsg.ACK && req.Method != sipmsg.CANCEL {
			// RFC 3261 §8.1.1.3: a UAC MUST add a From tag. RFC 2543 peers
			// (inv2543) are refused by policy.
			return reject(400, "Bad Request (missing From tag)")
		}
	} else if req.Method != sipmsg.ACK && req.Method != sipmsg.CANCEL {
		return reject(400, "Bad Request (missing From tag)")
	}
	return nil
}

// headerValues returns the comma-separated tokens of every header named
// name (or its compact form), lower-cased and trimmed.
func headerTokens(msg sipmsg.Message, names ...string) []string {
	var out []string
	for _, n := range names {
		for _, h := range msg.GetHeaders(n) {
			for _, t := range strings.Split(h.Value(), ",") {
				if t = strings.TrimSpace(t); t != "" {
					out = append(out, strings.ToLower(t))
				}
			}
		}
	}
	return out
}

func unsupportedRequire(req *sipmsg.Request) []string {
	var unk []string
	for _, tag := range headerTokens(req, "Require") {
		if !supportedExtensions[tag] {
			unk = append(unk, tag)
		}
	}
	return unk
}

// mediaType returns the lower-cased type/subtype of a Content-Type value.
func mediaType(v string) string {
	if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i]
	}
	return strings.ToLower(strings.TrimSpace(v))
}

func checkBody(req *sipmsg.Request, method string) *Rejection {
	body := req.Body()
	ct := req.ContentType()
	if len(body) > 0 && ct == nil {
		return reject(400, "Bad Request (body without Content-Type)")
	}
	switch method {
	case "INVITE", "UPDATE":
		if accepts := headerTokens(req, "Accept"); len(accepts) > 0 && !acceptsSDP(accepts) {
			return reject(406, "Not Acceptable", sipmsg.NewHeader("Accept", "application/sdp"))
		}
		if len(body) == 0 {
			return nil
		}
		if mediaType(ct.Value()) != "application/sdp" {
			return reject(415, "Unsupported Media Type", sipmsg.NewHeader("Accept", "application/sdp"))
		}
		if err := CheckSDP(body); err != "" {
			return reject(400, "Bad Request (malformed SDP: "+err+")")
		}
	}
	return nil
}

func acceptsSDP(tokens []string) bool {
	for _, t := range tokens {
		switch mediaType(t) {
		case "application/sdp", "application/*", "*/*":
			return true
		}
	}
	return false
}

// CheckSDP does the structural checks the signaling layer can make on an SDP
// body without negotiating it: it must start with v=0, every line must be
// "<letter>=<value>", it must have o= and at least one m= line, and every
// audio m= line must have a port and at least one format. It returns "" when
// the body passes, or a short reason.
func CheckSDP(body []byte) string {
	lines := bytes.Split(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n"))
	sawO, sawM := false, false
	for i, ln := range lines {
		if len(ln) == 0 {
			continue
		}
		if len(ln) < 2 || ln[1] != '=' || ln[0] < 'a' || ln[0] > 'z' {
			return "bad line"
		}
		if i == 0 && !bytes.Equal(ln, []byte("v=0")) {
			return "no v=0"
		}
		switch ln[0] {
		case 'o':
			sawO = true
		case 'm':
			sawM = true
			f := strings.Fields(string(ln[2:]))
			if len(f) < 4 {
				return "bad m= line"
			}
			if _, err := strconv.ParseUint(strings.SplitN(f[1], "/", 2)[0], 10, 16); err != nil {
				return "bad m= port"
			}
		}
	}
	switch {
	case len(lines) == 0 || len(bytes.TrimSpace(lines[0])) == 0:
		return "empty"
	case !sawO:
		return "no o= line"
	case !sawM:
		return "no m= line"
	}
	return ""
}

// IsHold reports whether an SDP offer puts the sender's stream on hold:
// a=sendonly or a=inactive (session or media level), or the RFC 2543 style
// c=IN IP4 0.0.0.0.
func IsHold(sdp []byte) bool {
	for _, ln := range bytes.Split(sdp, []byte("\n")) {
		ln = bytes.TrimSpace(ln)
		switch {
		case bytes.Equal(ln, []byte("a=sendonly")), bytes.Equal(ln, []byte("a=inactive")):
			return true
		case bytes.HasPrefix(ln, []byte("c=")):
			f := strings.Fields(string(ln[2:]))
			if len(f) >= 3 && (f[2] == "0.0.0.0" || strings.HasPrefix(f[2], "0.0.0.0/")) {
				return true
			}
		}
	}
	return false
}

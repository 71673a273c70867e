package sip

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"

	sipmsg "github.com/emiago/sipgo/sip"
)

// The pre-parse stage sees every UDP datagram as raw bytes, before sipgo's
// parser (sipmsg.WithTransportLayerReadFilter). It exists for what the parser
// silently drops or mis-frames: messages sipgo cannot parse get a stateless
// 400 (or 505/416) when they carry a Via to answer to, Content-Length defects
// the parser would paper over get a 400, and everything it answers goes back
// to the packet's source only (never to a Via host: no reflection to third
// parties). It also normalises two things on the way in:
//
//   - linear white space around the ; = / , : separators of the headers
//     sipgo parses structurally (Via, From, To, Contact, Route, Record-Route,
//     CSeq) is removed, as RFC 3261's SEMI/EQUAL/SLASH/COMMA/COLON rules allow;
//     without it sipgo rejects RFC 4475's model valid message (wsinv);
//   - the top Via gets ";rport" when it has none (Asterisk's force_rport,
//     Kamailio's force_rport()): responses then go to the packet's source
//     port, which is what phones behind NAT need.
//
// TCP is not pre-parsed: the read filter sees stream chunks there, and
// sipgo's stream parser closes the connection on framing errors.

type preVerdict uint8

const (
	prePass preVerdict = iota
	preDrop
	preReply
)

type preResult struct {
	verdict preVerdict
	data    []byte // bytes to hand to sipgo (prePass)
	reply   []byte // stateless response (preReply)
	label   string // bounded label for metrics
}

type rawHeader struct {
	lname string // canonical lower-case long name
	name  string // as written
	value string // unfolded, trimmed
	raw   []byte // original bytes, continuation lines included, no final CRLF
	fixed string // rewritten value, "" when unchanged
}

var compactNames = map[string]string{
	"f": "from", "t": "to", "i": "call-id", "v": "via", "m": "contact", "l": "content-length",
	"c": "content-type", "k": "supported", "s": "subject", "e": "content-encoding",
	"r": "refer-to", "b": "referred-by", "o": "event", "u": "allow-events", "x": "session-expires",
	"a": "accept-contact", "j": "reject-contact", "d": "request-disposition", "y": "identity",
	"n": "identity-info",
}

// structuredHeaders are normalised for LWS (see above).
var structuredHeaders = map[string]bool{"via": true, "from": true, "to": true, "contact": true,
	"route": true, "record-route": true, "cseq": true}

// nameAddrHeaders must enclose a URI with '?' in <> (RFC 3261 §20.10; RFC 4475 regbadct).
var nameAddrHeaders = map[string]bool{"from": true, "to": true, "contact": true, "route": true,
	"record-route": true, "reply-to": true, "refer-to": true}

func canonicalHeaderName(n string) string {
	l := strings.ToLower(n)
	if long, ok := compactNames[l]; ok {
		return long
	}
	return l
}

// preParse classifies one UDP datagram. parser may be nil (a default parser
// is used). It never panics on any input (see FuzzValidate).
func preParse(data []byte, parser *sipmsg.Parser) preResult {
	// CRLF keep-alives are sipgo's to ignore.
	if len(bytes.Trim(data, "\r\n")) == 0 {
		return preResult{verdict: prePass, data: data, label: "keepalive"}
	}
	for len(data) >= 2 && data[0] == '\r' && data[1] == '\n' {
		data = data[2:]
	}
	lineEnd := bytes.Index(data, []byte("\r\n"))
	if lineEnd <= 0 {
		return preResult{verdict: preDrop, label: "no_start_line"}
	}
	startLine := string(data[:lineEnd])
	hdrEnd := bytes.Index(data, []byte("\r\n\r\n"))
	var hdrBlock, body []byte
	terminated := hdrEnd >= lineEnd
	if terminated {
		hdrBlock = data[lineEnd+2 : hdrEnd+2]
		body = data[hdrEnd+4:]
	} else {
		hdrBlock = data[lineEnd+2:]
	}
	hdrs, malformed := splitHeaders(hdrBlock)

	if strings.HasPrefix(startLine, "SIP/") {
		// A response: only sanity-check the status line; sipgo matches it
		// to a client transaction or drops it.
		parts := strings.SplitN(startLine, " ", 3)
		if len(parts) < 2 || len(parts[1]) != 3 {
			return preResult{verdict: preDrop, label: "bad_response"}
		}
		code, err := strconv.Atoi(parts[1])
		if err != nil || code < 100 || code > 699 || !terminated || malformed {
			return preResult{verdict: preDrop, label: "bad_response"}
		}
		if parser == nil {
			parser = defaultParser
		}
		if _, err := parser.ParseSIP(data); err != nil {
			// Dropped here so sipgo never logs the raw bytes.
			return preResult{verdict: preDrop, label: "bad_response"}
		}
		return preResult{verdict: prePass, data: data, label: "response"}
	}

	r := &replier{hdrs: hdrs}
	if !r.answerable() {
		// Nothing to address a response to: drop quietly.
		return preResult{verdict: preDrop, label: "no_via"}
	}
	parts := strings.Split(startLine, " ")
	if len(parts) != 3 || parts[0] == "" || parts[1] == "" || parts[2] == "" {
		return r.reply(400, "Bad Request (malformed Request-Line)", "bad_request_line")
	}
	method, ruri, version := parts[0], parts[1], parts[2]
	if !isToken(method) || strings.HasPrefix(ruri, "<") || hasControl(ruri) {
		return r.reply(400, "Bad Request (malformed Request-Line)", "bad_request_line")
	}
	if !strings.HasPrefix(version, "SIP/") {
		return r.reply(400, "Bad Request (malformed Request-Line)", "bad_request_line")
	}
	if version != "SIP/2.0" {
		return r.reply(505, "Version Not Supported", "bad_version")
	}
	if !terminated {
		return r.reply(400, "Bad Request (no end of headers)", "unterminated")
	}
	if malformed {
		return r.reply(400, "Bad Request (malformed header line)", "bad_header")
	}

	nCL := 0
	for i := range hdrs {
		h := &hdrs[i]
		switch {
		case h.lname == "content-length":
			nCL++
			if nCL > 1 {
				return r.reply(400, "Bad Request (multiple Content-Length)", "content_length")
			}
			n, ok := parseDigits(h.value)
			if !ok {
				return r.reply(400, "Bad Request (invalid Content-Length)", "content_length")
			}
			if n > len(body) {
				return r.reply(400, "Bad Request (Content-Length exceeds datagram)", "content_length")
			}
		case nameAddrHeaders[h.lname]:
			if addrSpecWithHeaders(h.value) {
				return r.reply(400, "Bad Request (URI with headers must be in <>)", "bad_addr")
			}
		}
		if structuredHeaders[h.lname] {
			if c := canonLWS(h.value); c != h.value {
				h.fixed = c
			}
		}
	}
	forceRport(hdrs)

	out := data
	if needsRewrite(hdrs) {
		out = rebuild(startLine, hdrs, body)
	}
	if parser == nil {
		parser = defaultParser
	}
	if _, err := parser.ParseSIP(out); err != nil {
		if sc := uriScheme(ruri); sc != "sip" && sc != "sips" {
			return r.reply(416, "Unsupported URI Scheme", "bad_scheme")
		}
		return r.reply(400, "Bad Request (unparseable message)", "unparseable")
	}
	return preResult{verdict: prePass, data: out, label: "pass"}
}

var defaultParser = sipmsg.NewParser()

// splitHeaders splits a header block (lines ending in CRLF) into headers,
// joining continuation lines. malformed reports a line without a colon or a
// stray CR/LF.
func splitHeaders(block []byte) (hdrs []rawHeader, malformed bool) {
	var parts [][]string // continuation values per header, joined at the end (linear time)
	lines := bytes.Split(block, []byte("\r\n"))
	for _, ln := range lines {
		if len(ln) == 0 {
			continue
		}
		if bytes.IndexByte(ln, '\r') >= 0 || bytes.IndexByte(ln, '\n') >= 0 {
			malformed = true
		}
		if ln[0] == ' ' || ln[0] == '\t' {
			if len(hdrs) == 0 {
				malformed = true
				continue
			}
			h := &hdrs[len(hdrs)-1]
			h.raw = append(append(h.raw, '\r', '\n'), ln...)
			if cont := strings.TrimSpace(string(ln)); cont != "" {
				parts[len(parts)-1] = append(parts[len(parts)-1], cont)
			}
			continue
		}
		colon := bytes.IndexByte(ln, ':')
		if colon <= 0 {
			malformed = true
			continue
		}
		name := strings.TrimSpace(string(ln[:colon]))
		if name == "" || !isToken(name) {
			malformed = true
			continue
		}
		v := strings.TrimSpace(string(ln[colon+1:]))
		hdrs = append(hdrs, rawHeader{
			lname: canonicalHeaderName(name),
			name:  name,
			raw:   append([]byte(nil), ln...),
		})
		var first []string
		if v != "" {
			first = []string{v}
		}
		parts = append(parts, first)
	}
	for i := range hdrs {
		hdrs[i].value = strings.Join(parts[i], " ")
	}
	return hdrs, malformed
}

// isToken reports whether s is an RFC 3261 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func parseDigits(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

func uriScheme(u string) string {
	if i := strings.IndexByte(u, ':'); i > 0 {
		return strings.ToLower(u[:i])
	}
	return ""
}

// addrSpecWithHeaders reports whether a name-addr header value uses the bare
// addr-spec form (no <>, outside quotes) with a '?' (URI headers).
func addrSpecWithHeaders(v string) bool {
	inQuote := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case inQuote && c == '\\':
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == '<':
			return false
		}
	}
	return strings.IndexByte(v, '?') >= 0
}

// canonLWS removes white space around ; = / , : and collapses other runs of
// white space to one SP, leaving quoted strings and <...> untouched.
func canonLWS(v string) string {
	var b strings.Builder
	b.Grow(len(v))
	inQuote, inAngle := false, false
	pending := false  // white space seen and not yet written
	afterSep := false // last written byte was a separator
	for i := 0; i < len(v); i++ {
		c := v[i]
		if inQuote {
			b.WriteByte(c)
			if c == '\\' && i+1 < len(v) {
				i++
				b.WriteByte(v[i])
			} else if c == '"' {
				inQuote = false
			}
			continue
		}
		if inAngle {
			b.WriteByte(c)
			if c == '>' {
				inAngle = false
				afterSep = false
			}
			continue
		}
		switch c {
		case ' ', '\t':
			pending = true
			continue
		case ';', '=', '/', ',', ':':
			pending = false
			afterSep = true
			b.WriteByte(c)
			continue
		}
		if pending && !afterSep && b.Len() > 0 {
			b.WriteByte(' ')
		}
		pending, afterSep = false, false
		if c == '"' {
			inQuote = true
		} else if c == '<' {
			inAngle = true
		}
		b.WriteByte(c)
	}
	return b.String()
}

// forceRport adds ";rport" to the first value of the top Via.
func forceRport(hdrs []rawHeader) {
	for i := range hdrs {
		h := &hdrs[i]
		if h.lname != "via" {
			continue
		}
		v := h.value
		if h.fixed != "" {
			v = h.fixed
		}
		first, rest := v, ""
		if j := strings.IndexByte(v, ','); j >= 0 {
			first, rest = v[:j], v[j:]
		}
		for _, p := range strings.Split(first, ";")[1:] {
			if k := strings.ToLower(strings.TrimSpace(strings.SplitN(p, "=", 2)[0])); k == "rport" {
				return
			}
		}
		h.fixed = strings.TrimRight(first, " \t") + ";rport" + rest
		return
	}
}

func needsRewrite(hdrs []rawHeader) bool {
	for _, h := range hdrs {
		if h.fixed != "" {
			return true
		}
	}
	return false
}

func rebuild(startLine string, hdrs []rawHeader, body []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(startLine) + len(body) + 64*len(hdrs))
	b.WriteString(startLine)
	b.WriteString("\r\n")
	for _, h := range hdrs {
		if h.fixed != "" {
			b.WriteString(h.name)
			b.WriteString(": ")
			b.WriteString(h.fixed)
		} else {
			b.Write(h.raw)
		}
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// replier builds stateless responses from raw headers.
type replier struct{ hdrs []rawHeader }

func (r *replier) answerable() bool {
	for _, h := range r.hdrs {
		if h.lname == "via" && h.value != "" {
			return true
		}
	}
	return false
}

func (r *replier) first(lname string) string {
	for _, h := range r.hdrs {
		if h.lname == lname {
			return h.value
		}
	}
	return ""
}

func (r *replier) reply(code int, reason, label string, extra ...string) preResult {
	return preResult{verdict: preReply, reply: statelessResponse(code, reason, r.hdrs, extra...), label: label}
}

// statelessResponse builds "SIP/2.0 code reason" copying Via (all, in
// order), From, To (adding a tag), Call-ID and CSeq from the request.
func statelessResponse(code int, reason string, hdrs []rawHeader, extra ...string) []byte {
	var b bytes.Buffer
	b.WriteString("SIP/2.0 ")
	b.WriteString(strconv.Itoa(code))
	b.WriteByte(' ')
	b.WriteString(reason)
	b.WriteString("\r\n")
	for _, h := range hdrs {
		if h.lname == "via" {
			writeHeaderLine(&b, "Via", h.value)
		}
	}
	r := replier{hdrs: hdrs}
	if v := r.first("from"); v != "" {
		writeHeaderLine(&b, "From", v)
	}
	if v := r.first("to"); v != "" {
		if !strings.Contains(strings.ToLower(v), "tag=") {
			v += ";tag=" + randomToken(8)
		}
		writeHeaderLine(&b, "To", v)
	}
	if v := r.first("call-id"); v != "" {
		writeHeaderLine(&b, "Call-ID", v)
	}
	if v := r.first("cseq"); v != "" {
		writeHeaderLine(&b, "CSeq", v)
	}
	for _, e := range extra {
		b.WriteString(e)
		b.WriteString("\r\n")
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.Bytes()
}

func writeHeaderLine(b *bytes.Buffer, name, value string) {
	value = strings.Map(func(r rune) rune {
		if (r < 0x20 && r != '\t') || r == 0x7f {
			return -1
		}
		return r
	}, value)
	if len(value) > 2048 {
		value = value[:2048]
	}
	b.WriteString(name)
	b.WriteString(": ")
	b.WriteString(value)
	b.WriteString("\r\n")
}

func randomToken(n int) string {
	buf := make([]byte, n)
	_, _ = rand.Read(buf)
	return hex.EncodeToString(buf)
}

package sip

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	sipmsg "github.com/emiago/sipgo/sip"
)

// FuzzValidate feeds raw datagrams through the whole ingress path: the
// raw-bytes pre-parse stage, sipgo's parser and Validate, then touches the
// lazily parsed headers the handlers use. Nothing may panic, a pass verdict
// must be parseable, and a stateless reply must be a single well-formed
// response without control characters in its lines.
func FuzzValidate(f *testing.F) {
	if out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output(); err == nil {
		files, _ := filepath.Glob(filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture", "*", "*.dat"))
		for _, fn := range files {
			if b, err := os.ReadFile(fn); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("INVITE sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKabc\r\n" +
		"From: \"A\" <sip:a@h>;tag=1\r\nTo: <sip:bob@h>\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1>\r\n" +
		"Session-Expires: 90;refresher=uac\r\nRequire: timer\r\nContent-Type: application/sdp\r\nContent-Length: 4\r\n\r\nv=0\n"))
	f.Add([]byte("\r\n\r\n"))
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bKx\r\nCSeq: 1 INVITE\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		res := preParse(data, nil)
		switch res.verdict {
		case preReply:
			if !bytes.HasPrefix(res.reply, []byte("SIP/2.0 ")) || !bytes.HasSuffix(res.reply, []byte("\r\n\r\n")) {
				t.Fatalf("reply %q", res.reply)
			}
			for _, ln := range bytes.Split(bytes.TrimSuffix(res.reply, []byte("\r\n\r\n")), []byte("\r\n")) {
				if hasControl(string(ln)) {
					t.Fatalf("control character in reply line %q", ln)
				}
			}
		case prePass:
			if res.label == "keepalive" {
				return
			}
			m, err := sipmsg.ParseMessage(res.data)
			if err != nil {
				t.Fatalf("pre-parse passed an unparseable message: %v", err)
			}
			req, ok := m.(*sipmsg.Request)
			if !ok {
				return
			}
			rej := Validate(req)
			_ = req.Contact()
			_ = req.Route()
			_ = req.RecordRoute()
			_ = req.ReferTo()
			_, _, _ = parseSessionExpires(req)
			_, _ = parseMinSE(req)
			_, _ = parseExpiresHeader(req)
			if rej != nil {
				if rej.Code < 400 || rej.Code > 599 {
					t.Fatalf("rejection code %d", rej.Code)
				}
				return
			}
			// Everything a handler reads from a validated request.
			_ = partyOf(req.From().DisplayName, req.From().Address)
			_ = partyOf(req.To().DisplayName, req.To().Address)
			_ = recordRoutes(req, true)
			_ = IsHold(req.Body())
			if ct := req.ContentType(); ct != nil {
				_, _, _ = parseDTMFInfo(mediaType(ct.Value()), req.Body())
			}
		}
	})
}

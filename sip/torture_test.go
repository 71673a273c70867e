package sip

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// tortureDir finds RFC 4475's messages shipped with the sipgo module.
func tortureDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/emiago/sipgo").Output()
	if err != nil {
		t.Fatalf("go list sipgo: %v", err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "sip", "testdata", "torture")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("torture corpus: %v", err)
	}
	return dir
}

// tortureOutcome is what careline must answer to one RFC 4475 message sent
// over UDP. code 0: no response at all (responses in the corpus, and
// messages without a Via to answer to). header: a header the response
// must carry.
type tortureOutcome struct {
	code   int
	header string
	why    string
}

// The expectations follow RFC 4475 §3 for an endpoint (B2BUA) with this
// test's policy: 127.0.0.1 is a trunk whose calls the handler declines with
// 486, and the registrar requires digest (so well-formed REGISTERs get 401).
var tortureTable = map[string]tortureOutcome{
	// 3.1.1 valid messages: processed normally.
	"valid/wsinv":      {481, "", "3.1.1.1 well-formed despite LWS and folding; its To tag names no dialog of ours"},
	"valid/intmeth":    {501, "Allow", "3.1.1.2 unknown method: endpoint answers 501 with Allow"},
	"valid/esc01":      {486, "", "3.1.1.3 valid escaping: reaches the handler"},
	"valid/escnull":    {401, "WWW-Authenticate", "3.1.1.4 valid REGISTER: challenged"},
	"valid/esc02":      {501, "Allow", "3.1.1.5 RE%47IST%45R is an unknown method"},
	"valid/lwsdisp":    {200, "Allow", "3.1.1.6 no LWS before <: accepted"},
	"valid/longreq":    {486, "", "3.1.1.7 long values: reaches the handler"},
	"valid/dblreq":     {401, "WWW-Authenticate", "3.1.1.8 REGISTER handled, trailing INVITE ignored"},
	"valid/semiuri":    {200, "Allow", "3.1.1.9 ; in user part: accepted"},
	"valid/transports": {200, "Allow", "3.1.1.10 unknown transports in Via: accepted"},
	"valid/mpart01":    {405, "Allow", "3.1.1.11 well-formed MESSAGE; careline does not allow MESSAGE"},
	"valid/unreason":   {0, "", "3.1.1.12 a response: no transaction, dropped"},
	"valid/noreason":   {0, "", "3.1.1.13 a response: no transaction, dropped"},
	// 3.1.2 invalid messages.
	"invalid/badinv01":   {400, "", "3.1.2.1 extraneous separators"},
	"invalid/clerr":      {400, "", "3.1.2.2 Content-Length larger than datagram"},
	"invalid/ncl":        {400, "", "3.1.2.3 negative Content-Length"},
	"invalid/scalar02":   {400, "", "3.1.2.4 overlarge CSeq"},
	"invalid/scalarlg":   {0, "", "3.1.2.5 a response with overlarge values: dropped"},
	"invalid/quotbal":    {400, "", "3.1.2.6 unterminated quoted string"},
	"invalid/ltgtruri":   {400, "", "3.1.2.7 <> around Request-URI"},
	"invalid/lwsruri":    {400, "", "3.1.2.8 LWS in Request-URI"},
	"invalid/lwsstart":   {400, "", "3.1.2.9 multiple SP in Request-Line (reject is allowed)"},
	"invalid/trws":       {400, "", "3.1.2.10 trailing SP in Request-Line (reject is allowed)"},
	"invalid/escruri":    {400, "", "3.1.2.11 escaped headers in Request-URI are never made real"},
	"invalid/baddate":    {486, "", "3.1.2.12 bad Date is ignored: reaches the handler"},
	"invalid/regbadct":   {400, "", "3.1.2.13 URI with ? outside <>"},
	"invalid/badaspec":   {400, "", "3.1.2.14 spaces inside addr-spec"},
	"invalid/baddn":      {400, "", "3.1.2.15 non-token display name"},
	"invalid/badvers":    {505, "", "3.1.2.16 SIP/7.0"},
	"invalid/mismatch01": {400, "", "3.1.2.17 CSeq method mismatch"},
	"invalid/mismatch02": {501, "Allow", "3.1.2.18 unknown method with CSeq mismatch: 501 preferred"},
	"invalid/bigcode":    {0, "", "3.1.2.19 a response with an overlarge code: dropped"},
	// 3.2 - 3.4.
	"invalid/badbranch": {200, "Allow", "3.2.1 empty branch: RFC 2543 matching fallback"},
	"invalid/insuf":     {400, "", "3.3.1 missing Call-ID/From/To"},
	"invalid/unkscm":    {416, "", "3.3.2 unknown Request-URI scheme"},
	"invalid/novelsc":   {416, "", "3.3.3 known but atypical scheme"},
	"invalid/unksm2":    {400, "", "3.3.4 registrar: AOR must be SIP"},
	"invalid/bext01":    {420, "Unsupported", "3.3.5 Require with unknown options"},
	"invalid/invut":     {415, "Accept", "3.3.6 unknown Content-Type"},
	"invalid/regaut01":  {401, "WWW-Authenticate", "3.3.7 unknown auth scheme: Digest challenge"},
	"invalid/multi01":   {400, "", "3.3.8 multiple single-valued headers"},
	"invalid/mcl01":     {400, "", "3.3.9 multiple Content-Length"},
	"invalid/bcast":     {0, "", "3.3.10 a response: dropped, never forwarded"},
	"invalid/zeromf":    {200, "Allow", "3.3.11 OPTIONS with Max-Forwards 0: the endpoint answers"},
	"invalid/cparam01":  {401, "WWW-Authenticate", "3.3.12 contact-param: REGISTER challenged"},
	"invalid/cparam02":  {401, "WWW-Authenticate", "3.3.13 url-param: REGISTER challenged"},
	"invalid/regescrt":  {401, "WWW-Authenticate", "3.3.14 escaped Route in Contact: REGISTER challenged"},
	"invalid/sdp01":     {406, "Accept", "3.3.15 Accept without application/sdp"},
	"invalid/inv2543":   {400, "", "3.4.1 RFC 2543 syntax refused by policy"},
	"invalid/test":      {0, "", "unreferenced, no Via: nothing to answer"},
}

func TestRFC4475TortureOverUDP(t *testing.T) {
	// Not parallel: it bounds the process's goroutine count.
	dir := tortureDir(t)
	creds, _ := NewStaticCredentials("careline.test", CredentialEntry{User: "agent7", Password: "right"})
	cfg := trunkCfg()
	cfg.Realm = "careline.test"
	s := startServer(t, cfg, WithCredentials(creds), WithHandler(HandlerFunc(func(ctx context.Context, l *Leg) {
		_ = l.Reject(486, "Busy Here")
	})))
	dst := net.UDPAddrFromAddrPort(udpAddr(t, s))
	before := runtime.NumGoroutine()

	files, err := filepath.Glob(filepath.Join(dir, "*", "*.dat"))
	if err != nil || len(files) != 50 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, f := range files {
		name := filepath.Base(filepath.Dir(f)) + "/" + strings.TrimSuffix(filepath.Base(f), ".dat")
		want, ok := tortureTable[name]
		if !ok {
			t.Errorf("%s: no expectation in the table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			data = uniqueBranch(data, name)
			conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := conn.WriteTo(data, dst); err != nil {
				t.Fatal(err)
			}
			if want.code == 0 {
				// Nothing may come back: a sentinel OPTIONS must be the first answer.
				sendOptions(t, conn, dst, "sentinel-"+name)
				res := readFinal(t, conn)
				if res.CallID() == nil || res.CallID().Value() != "sentinel-"+name {
					t.Fatalf("%s (%s): unexpected response %s", name, want.why, res.StartLine())
				}
				return
			}
			res := readFinal(t, conn)
			if res.StatusCode != want.code {
				t.Fatalf("%s (%s): got %q, want %d", name, want.why, res.StartLine(), want.code)
			}
			if res.SipVersion != "SIP/2.0" {
				t.Fatalf("%s: response version %q", name, res.SipVersion)
			}
			if want.header != "" && res.GetHeader(want.header) == nil {
				t.Fatalf("%s: %d without %s", name, res.StatusCode, want.header)
			}
		})
	}

	// The server still works and nothing piled up.
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	sendOptions(t, conn, dst, "after-corpus")
	if res := readFinal(t, conn); res.StatusCode != 200 {
		t.Fatalf("OPTIONS after corpus: %d", res.StatusCode)
	}
	const bound = 25
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+bound && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+bound {
		t.Fatalf("goroutines: %d before the corpus, %d after", before, n)
	}
	if s.ActiveLegs() != 0 {
		t.Fatalf("%d legs still active", s.ActiveLegs())
	}
}

func sendOptions(t *testing.T, conn *net.UDPConn, dst *net.UDPAddr, callID string) {
	t.Helper()
	la := conn.LocalAddr().(*net.UDPAddr)
	msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\nMax-Forwards: 70\r\n"+
		"From: <sip:probe@127.0.0.1>;tag=p1\r\nTo: <sip:%s>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		dst, la, randomToken(6), dst, callID)
	if _, err := conn.WriteTo([]byte(msg), dst); err != nil {
		t.Fatal(err)
	}
}

// readFinal returns the first final response received on conn.
func readFinal(t *testing.T, conn *net.UDPConn) *sipmsg.Response {
	t.Helper()
	buf := make([]byte, 65535)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		m, err := sipmsg.ParseMessage(append([]byte(nil), buf[:n]...))
		if err != nil {
			// Our stateless replies copy the request's (possibly broken)
			// headers; read the status line by hand.
			res := parseStatusOnly(buf[:n])
			if res == nil {
				t.Fatalf("unparseable datagram %q", buf[:min(n, 80)])
			}
			return res
		}
		if res, ok := m.(*sipmsg.Response); ok && res.StatusCode >= 200 {
			return res
		}
	}
}

// parseStatusOnly reads the status line and simple headers of a response
// that sipgo cannot parse (it echoes a malformed request's headers).
func parseStatusOnly(b []byte) *sipmsg.Response {
	lines := strings.Split(string(b), "\r\n")
	var code int
	var reason string
	if _, err := fmt.Sscanf(lines[0], "SIP/2.0 %d", &code); err != nil {
		return nil
	}
	if parts := strings.SplitN(lines[0], " ", 3); len(parts) == 3 {
		reason = parts[2]
	}
	res := sipmsg.NewResponse(code, reason)
	res.SipVersion = "SIP/2.0"
	for _, ln := range lines[1:] {
		if i := strings.IndexByte(ln, ':'); i > 0 {
			name := strings.TrimSpace(ln[:i])
			if !strings.EqualFold(name, "Content-Length") {
				res.AppendHeader(sipmsg.NewHeader(name, strings.TrimSpace(ln[i+1:])))
			}
		}
	}
	return res
}

// uniqueBranch makes the first branch=z9hG4bK… value unique to this
// message. Many corpus messages share Via sent-by and branch (e.g. cparam01
// and cparam02); sent back to back they would match one server
// transaction (RFC 3261 §17.2.3 ignores the source address) and the second
// would only see the first's retransmitted response. badbranch is left
// alone: its empty branch is the point of the test.
func uniqueBranch(data []byte, name string) []byte {
	if name == "invalid/badbranch" {
		return data
	}
	s := string(data)
	i := strings.Index(s, "branch=z9hG4bK")
	if i < 0 {
		return data
	}
	j := i + len("branch=z9hG4bK")
	for j < len(s) && !strings.ContainsRune(";, \r\n", rune(s[j])) {
		j++
	}
	return []byte(s[:j] + "-" + randomToken(3) + s[j:])
}

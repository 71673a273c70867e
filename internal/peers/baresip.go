package peers

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careline/careline/internal/testenv"
)

// BaresipConfig configures one headless baresip (see shared/peers.md §2).
type BaresipConfig struct {
	// Account is the accounts-file line, e.g.
	// "<sip:agent7@127.0.0.1:5060>;auth_pass=secret;regint=60;answermode=auto;audio_codecs=PCMU".
	// %SIPPORT% is replaced by the port baresip listens on.
	Account string
	// AudioSource is the WAV played as microphone (8 kHz mono 16-bit);
	// default: a 60 s 440 Hz tone written into the config directory.
	// baresip hangs up when the file ends.
	AudioSource string
	// RecordDir, when set, loads sndfile: each call's audio is dumped there.
	RecordDir string
	// NoG711 leaves out the G.711 codec module: the phone has no codec in common with
	// careline and answers offers with 488.
	NoG711 bool
}

// Baresip is a running baresip driven over ctrl_tcp (netstring JSON).
type Baresip struct {
	Dir      string
	SIPPort  int
	CtrlPort int
	Log      *LogBuffer

	cmd  *exec.Cmd
	exit chan struct{}

	conn    net.Conn
	wmu     sync.Mutex
	tok     atomic.Int64
	mu      sync.Mutex
	waiting map[string]chan BaresipMessage
	events  chan BaresipMessage
}

// BaresipMessage is a ctrl_tcp response or event.
type BaresipMessage struct {
	Event    bool   `json:"event"`
	Response bool   `json:"response"`
	OK       bool   `json:"ok"`
	Type     string `json:"type"`
	Class    string `json:"class"`
	Param    string `json:"param"`
	PeerURI  string `json:"peeruri"`
	Data     string `json:"data"`
	Token    string `json:"token"`
}

// StartBaresip writes a config directory, starts baresip and connects to
// its control port. It is stopped when the test ends.
func StartBaresip(ctx context.Context, t testing.TB, cfg BaresipConfig) *Baresip {
	t.Helper()
	dir := t.TempDir()
	b := &Baresip{Dir: dir, Log: NewLogBuffer(), exit: make(chan struct{}),
		waiting: make(map[string]chan BaresipMessage), events: make(chan BaresipMessage, 256)}
	b.SIPPort = FreePort(t, 2)
	// RTP ports probed free, below the kernel's ephemeral range (32768+), so no port the
	// kernel hands to another socket can collide with them.
	rtpLo := testenv.FreeUDPRange(t, 40, 10000, 32760)
	b.CtrlPort = FreePort(t, 1)
	audio := cfg.AudioSource
	if audio == "" {
		audio = filepath.Join(dir, "tone.wav")
		if err := WriteToneWAV(audio, 60, 440); err != nil {
			t.Fatal(err)
		}
	}
	conf := fmt.Sprintf(`poll_method      epoll
sip_listen       127.0.0.1:%d
net_interface    127.0.0.1
call_max_calls   4
audio_player     aubridge,nil
audio_alert      aubridge,nil
audio_source     aufile,%s
rtp_timeout      0
rtp_ports        %d-%d
module_path      /usr/lib/baresip/modules
module           g711.so
module           aufile.so
module           aubridge.so
module_tmp       uuid.so
module_tmp       account.so
module_app       menu.so
module_app       ctrl_tcp.so
ctrl_tcp_listen  127.0.0.1:%d
`, b.SIPPort, audio, rtpLo, rtpLo+39, b.CtrlPort)
	if cfg.RecordDir != "" {
		conf += "module           sndfile.so\nsnd_path         " + cfg.RecordDir + "\n"
	}
	if cfg.NoG711 {
		conf = strings.Replace(conf, "module           g711.so\n", "", 1)
	}
	account := strings.ReplaceAll(cfg.Account, "%SIPPORT%", strconv.Itoa(b.SIPPort))
	for name, content := range map[string]string{"config": conf, "accounts": account + "\n", "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b.cmd = exec.Command("baresip", "-f", dir)
	b.cmd.Stdout, b.cmd.Stderr = b.Log, b.Log
	if err := b.cmd.Start(); err != nil {
		t.Fatalf("peers: start baresip: %v", err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.exit)
	}()
	t.Cleanup(b.stop)
	if err := b.Log.WaitFor(ctx, "baresip is ready."); err != nil {
		t.Fatalf("peers: baresip did not start: %v\n%s", err, b.Log.String())
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(b.CtrlPort)))
	if err != nil {
		t.Fatalf("peers: baresip ctrl_tcp: %v", err)
	}
	b.conn = conn
	go b.readLoop()
	return b
}

// Kill ends baresip with SIGKILL: no BYE, no more RTP (a phone that vanishes).
func (b *Baresip) Kill() {
	_ = b.cmd.Process.Kill()
	<-b.exit
}

// SIPAddr is baresip's SIP address ("127.0.0.1:port").
func (b *Baresip) SIPAddr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.SIPPort)) }

func (b *Baresip) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, _ = b.Command(ctx, "quit", "")
	select {
	case <-b.exit:
	case <-ctx.Done():
		_ = b.cmd.Process.Kill() // our own child, by PID
		<-b.exit
	}
	if b.conn != nil {
		_ = b.conn.Close()
	}
}

// Command sends a ctrl_tcp command ("dial", "hangup", "sndcode", "reginfo",
// "accept", ...) and returns the response data.
func (b *Baresip) Command(ctx context.Context, command, params string) (string, error) {
	if b.conn == nil {
		return "", errors.New("peers: baresip not connected")
	}
	tok := "t" + strconv.FormatInt(b.tok.Add(1), 10)
	ch := make(chan BaresipMessage, 1)
	b.mu.Lock()
	b.waiting[tok] = ch
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		delete(b.waiting, tok)
		b.mu.Unlock()
	}()
	js, _ := json.Marshal(map[string]string{"command": command, "params": params, "token": tok})
	b.wmu.Lock()
	_, err := fmt.Fprintf(b.conn, "%d:%s,", len(js), js)
	b.wmu.Unlock()
	if err != nil {
		return "", err
	}
	select {
	case m := <-ch:
		if !m.OK {
			return m.Data, fmt.Errorf("peers: baresip %s failed: %s", command, m.Data)
		}
		return m.Data, nil
	case <-b.exit:
		return "", errors.New("peers: baresip exited")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// WaitEvent returns the next event of type typ (e.g. "CALL_ESTABLISHED",
// "CALL_CLOSED", "REGISTER_OK", "CALL_DTMF_START"), discarding others.
func (b *Baresip) WaitEvent(ctx context.Context, typ string) (BaresipMessage, error) {
	for {
		select {
		case m := <-b.events:
			if m.Type == typ {
				return m, nil
			}
		case <-b.exit:
			return BaresipMessage{}, errors.New("peers: baresip exited")
		case <-ctx.Done():
			return BaresipMessage{}, fmt.Errorf("peers: no %s event: %w", typ, ctx.Err())
		}
	}
}

// WaitEventAny returns the next event whose type is one of types.
func (b *Baresip) WaitEventAny(ctx context.Context, types ...string) (BaresipMessage, error) {
	for {
		select {
		case m := <-b.events:
			for _, typ := range types {
				if m.Type == typ {
					return m, nil
				}
			}
		case <-b.exit:
			return BaresipMessage{}, errors.New("peers: baresip exited")
		case <-ctx.Done():
			return BaresipMessage{}, fmt.Errorf("peers: no %v event: %w", types, ctx.Err())
		}
	}
}

func (b *Baresip) readLoop() {
	r := bufio.NewReader(b.conn)
	for {
		lenStr, err := r.ReadString(':')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(lenStr[:len(lenStr)-1]))
		if err != nil || n < 0 || n > 1<<20 {
			return
		}
		buf := make([]byte, n+1) // payload and the trailing ','
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var m BaresipMessage
		if json.Unmarshal(buf[:n], &m) != nil {
			continue
		}
		if m.Response {
			b.mu.Lock()
			ch := b.waiting[m.Token]
			b.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		select {
		case b.events <- m:
		default:
		}
	}
}

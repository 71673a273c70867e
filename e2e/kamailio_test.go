package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careline/careline/internal/peers"
	"github.com/careline/careline/internal/testenv"
	dto "github.com/prometheus/client_model/go"
)

// startKamailio runs configs/kamailio/careline-lb.cfg in front of the given nodes and
// returns its SIP address.
func startKamailio(t *testing.T, ctx context.Context, nodes ...string) string {
	t.Helper()
	bin := testenv.Lookup(t, "kamailio", "kamailio")
	dir := t.TempDir()
	port := testenv.FreePort(t, "udp")
	var list strings.Builder
	for _, n := range nodes {
		fmt.Fprintf(&list, "1 sip:%s 0 0\n", n)
	}
	listPath := filepath.Join(dir, "nodes.list")
	os.WriteFile(listPath, []byte(list.String()), 0o644)
	src, err := os.ReadFile(filepath.Join(repoRoot(), "configs", "kamailio", "careline-lb.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := string(src)
	for _, r := range [][2]string{
		{`"!LB_LISTEN!udp:127.0.0.1:5060!g"`, fmt.Sprintf(`"!LB_LISTEN!udp:127.0.0.1:%d!g"`, port)},
		{`"!LB_LIST!/etc/kamailio/careline-nodes.list!g"`, `"!LB_LIST!` + listPath + `!g"`},
		{`"!LB_CTL!unix:/run/kamailio/kamailio_ctl!g"`, `"!LB_CTL!unix:` + filepath.Join(dir, "ctl") + `!g"`},
	} {
		if !strings.Contains(cfg, r[0]) {
			t.Fatalf("careline-lb.cfg lacks %s", r[0])
		}
		cfg = strings.Replace(cfg, r[0], r[1], 1)
	}
	cfgPath := filepath.Join(dir, "lb.cfg")
	os.WriteFile(cfgPath, []byte(cfg), 0o644)
	if out, err := exec.Command(bin, "-c", "-f", cfgPath).CombinedOutput(); err != nil {
		t.Fatalf("kamailio -c: %v\n%s", err, out)
	}
	log := peers.NewLogBuffer()
	cmd := exec.Command(bin, "-f", cfgPath, "-DD", "-E", "-Y", dir, "-m", "64", "-M", "8")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // kamailio forks workers: stop the group
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		if t.Failed() {
			t.Logf("kamailio log:\n%s", log)
		}
	})
	if err := log.WaitFor(ctx, "io_listen_loop"); err != nil {
		t.Fatalf("kamailio did not start: %v\n%s", err, log)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

func answeredCalls(t *testing.T, e *Engine) float64 {
	t.Helper()
	mfs, err := e.App.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "careline_calls_answered_total" {
			for _, m := range mf.Metric {
				if label(m, "direction") == "inbound" {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// Two careline nodes sharing Redis behind Kamailio's dispatcher: patients call the load
// balancer, their calls land on both nodes, the one agent (registered at one node) takes
// them in turn, and hang-ups in both directions cross Kamailio.
func TestKamailioSpreadsCallsOverTwoNodes(t *testing.T) {
	t.Parallel()
	redisURL, prefix := testenv.RedisURL(t)
	opts := engineOpts{numbersYAML: routingNumbers, extraYAML: routingYAML("never"), dbURL: testenv.PostgresURL(t),
		redisURL: redisURL, redisPrefix: prefix,
		agentsYAML: agentsYAML(agentYAML("ana", "1001", "{coordinator: 3}", "[en]"))}
	nodeA, nodeB := startEngine(t, opts), startEngine(t, opts)
	ctx := ctxT(t, 90*time.Second)
	lb := startKamailio(t, ctx, nodeA.SIP, nodeB.SIP)
	ana := startPhone(t, ctx, nodeA, phoneOpts{user: "1001", password: testSecrets["T_AGENT_1001_PW"], auto: true, tone: 1000})
	nodeA.agentAPI(t, "ana", "login")

	var callers []*bphone
	for i := range 2 {
		p := startPhone(t, ctx, nil, phoneOpts{user: fmt.Sprintf("555100%d", i+1), tone: 440})
		if _, err := p.Command(ctx, "dial", "sip:7003@"+lb); err != nil {
			t.Fatal(err)
		}
		callers = append(callers, p)
	}
	// The agent takes the first call and hangs up (BYE from careline to the patient
	// through Kamailio), then the second; that patient hangs up (BYE through Kamailio).
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	ana.Command(ctx, "hangup", "")
	if _, err := ana.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("second call: %v", err)
	}
	time.Sleep(time.Second)
	closed := 0
	for _, p := range callers {
		if strings.Contains(p.Log.String(), "terminated") {
			closed++
		}
	}
	if closed != 1 {
		t.Fatalf("%d callers hung up by careline through Kamailio, want 1", closed)
	}
	for _, p := range callers {
		p.Command(ctx, "hangup", "")
	}
	if a, b := answeredCalls(t, nodeA), answeredCalls(t, nodeB); a != 1 || b != 1 {
		t.Fatalf("calls answered: node A %.0f, node B %.0f; want one each", a, b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodeA.drain(t)
		nodeB.drain(t)
		var ended, toAna int
		nodeA.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE ended_at IS NOT NULL), count(*) FILTER (WHERE agent_id='ana')
			FROM interactions WHERE direction='inbound'`).Scan(&ended, &toAna)
		if ended == 2 && toAna == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("interactions: %d ended, %d served by ana", ended, toAna)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

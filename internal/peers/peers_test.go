package peers

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestBaresipCallsBaresip(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	bob := StartBaresip(ctx, t, BaresipConfig{Account: "<sip:bob@127.0.0.1:%SIPPORT%>;regint=0;answermode=auto;audio_codecs=PCMU"})
	alice := StartBaresip(ctx, t, BaresipConfig{Account: "<sip:alice@127.0.0.1:%SIPPORT%>;regint=0;audio_codecs=PCMU"})
	if _, err := alice.Command(ctx, "dial", "sip:bob@"+bob.SIPAddr()); err != nil {
		t.Fatal(err)
	}
	if _, err := alice.WaitEvent(ctx, "CALL_ESTABLISHED"); err != nil {
		t.Fatalf("%v\n%s", err, alice.Log.String())
	}
	if _, err := alice.Command(ctx, "hangup", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.WaitEvent(ctx, "CALL_CLOSED"); err != nil {
		t.Fatal(err)
	}
}

func TestSipsakRuns(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := Sipsak(ctx, "--version")
	if err != nil || !strings.Contains(res.Output, "sipsak") {
		t.Fatalf("%v %q", err, res.Output)
	}
}

package webhook

import (
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

// The Standard Webhooks specification's published example: secret, id, timestamp and
// body give this exact signature.
func TestSignMatchesSpecExample(t *testing.T) {
	key, err := ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"test": 2432232314}`)
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("signature %s, want %s", got, want)
	}
	h := http.Header{}
	h.Set(HeaderID, "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set(HeaderTimestamp, "1614265330")
	h.Set(HeaderSignature, "v1,bogus "+got)
	if err := Verify(key, h, body, time.Unix(1614265330, 0), 5*time.Minute); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := Verify(key, h, []byte(`{"test": 1}`), time.Unix(1614265330, 0), 0); !errors.Is(err, ErrSignature) {
		t.Fatalf("tampered body verified: %v", err)
	}
	if err := Verify(key, h, body, time.Unix(1614265330+3600, 0), 5*time.Minute); !errors.Is(err, ErrSignature) {
		t.Fatalf("stale timestamp verified: %v", err)
	}
}

func TestParseSecretRefusesBadSecrets(t *testing.T) {
	short := "whsec_" + base64.StdEncoding.EncodeToString([]byte("short"))
	for _, s := range []string{"", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_***", short} {
		if _, err := ParseSecret(s); err == nil {
			t.Errorf("ParseSecret(%q) accepted", s)
		}
	}
}

func TestBackoffDoublesWithJitterAndCap(t *testing.T) {
	r := 0.0
	d := NewDeliverer(nil, nil, Options{BackoffMin: time.Second, BackoffMax: time.Minute, Rand: func() float64 { return r }})
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		if got := d.Backoff(i + 1); got != want {
			t.Errorf("attempt %d: %s, want %s", i+1, got, want)
		}
	}
	r = 0.999
	if got := d.Backoff(30); got > time.Minute || got < 59*time.Second {
		t.Errorf("attempt 30: %s, want just under the 1m cap", got)
	}
	// With the defaults, a delivery is retried for 24 h with about 40 attempts.
	d = NewDeliverer(nil, nil, Options{Rand: func() float64 { return 0.5 }})
	var total time.Duration
	n := 0
	for total < 24*time.Hour {
		n++
		total += d.Backoff(n)
	}
	if n < 20 || n > 50 {
		t.Errorf("%d attempts in 24 h with the defaults", n)
	}
}

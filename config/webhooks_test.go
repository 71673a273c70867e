package config

import (
	"strings"
	"testing"
	"time"
)

const webhookBase = base + `webhooks:
  retry_for: 30h
  endpoints:
    pms:
      url: env:PMS_URL
      secret: env:PMS_SECRET
      events: [refill.requested, appointment.cancelled]
      fields: [appointment_at, provider]
    bad:
      url: "ftp://x"
      secret: env:BAD_SECRET
      events: [refill.requested, appointment.moved]
`

func TestWebhookConfig(t *testing.T) {
	c, is := Parse("t.yaml", []byte(webhookBase), LoadOptions{LookupEnv: env(map[string]string{
		"PMS_URL": "https://pms.example.org/hook", "PMS_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"BAD_SECRET": "literal"})})
	e := c.Webhooks.Endpoints["pms"]
	if e.URL.Value() != "https://pms.example.org/hook" || e.Secret.Value() == "" || e.Timeout != 10*time.Second ||
		c.Webhooks.RetryFor != 30*time.Hour || c.Webhooks.BackoffMin != 5*time.Second {
		t.Fatalf("pms endpoint: %+v %+v", e, c.Webhooks)
	}
	var msgs []string
	for _, i := range is.Errors() {
		msgs = append(msgs, i.Path+": "+i.Msg)
		if i.Line == 0 {
			t.Errorf("issue without a line: %v", i)
		}
	}
	got := strings.Join(msgs, "\n")
	for _, want := range []string{"webhooks.endpoints.bad.url: bad webhook URL",
		"webhooks.endpoints.bad.secret: BAD_SECRET is not a whsec_ secret",
		`webhooks.endpoints.bad.events[1]: unknown event "appointment.moved"`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing issue %q in:\n%s", want, got)
		}
	}
	if len(msgs) != 3 {
		t.Errorf("issues:\n%s", got)
	}
}

package config

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

const recBase = base + `recordings:
  dir: /var/lib/careline/recordings
  master_keys:
    - {id: k1, key: "env:CARELINE_RECORDING_KEY"}
`

const goodHex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

func TestRecordingsSection(t *testing.T) {
	c, is := Parse("t.yaml", []byte(recBase), LoadOptions{LookupEnv: env(map[string]string{"CARELINE_RECORDING_KEY": goodHex})})
	if len(is.Errors()) != 0 {
		t.Fatalf("unexpected issues:\n%v", is)
	}
	rc := c.Recordings
	if rc == nil || rc.CurrentKey != "k1" || rc.RetentionDays != 90 || rc.Chunk != time.Second || rc.RetentionInterval != time.Hour {
		t.Fatalf("defaults: %+v", rc)
	}
	if k := rc.MasterKeys[0].Bytes(); len(k) != 32 || k[31] != 0x1f {
		t.Fatalf("key not decoded: %d bytes", len(k))
	}
	if c2, _ := Parse("t.yaml", []byte(base), LoadOptions{LookupEnv: env(nil)}); c2.Recordings != nil {
		t.Fatal("recordings enabled without a recordings section")
	}
}

func TestRecordingsKeyErrors(t *testing.T) {
	two := recBase + "    - {id: k2, key: \"env:CARELINE_RECORDING_KEY_2\"}\n"
	cases := []struct {
		name string
		yaml string
		env  map[string]string
		want string // substring of the only error
	}{
		{"missing variable", recBase, nil, `12:21: error: recordings.master_keys[0].key: environment variable CARELINE_RECORDING_KEY (recording master key) is not set`},
		{"empty variable", recBase, map[string]string{"CARELINE_RECORDING_KEY": ""}, "CARELINE_RECORDING_KEY (recording master key) is not set"},
		{"short key", recBase, map[string]string{"CARELINE_RECORDING_KEY": goodHex[:32]}, "CARELINE_RECORDING_KEY does not hold a valid recording master key: it decodes to 24 bytes"},
		{"not a key", recBase, map[string]string{"CARELINE_RECORDING_KEY": "hunter2!"}, "CARELINE_RECORDING_KEY does not hold a valid recording master key: 8 characters"},
		{"literal key", strings.Replace(recBase, `"env:CARELINE_RECORDING_KEY"`, goodHex, 1), nil, "secrets must be environment references"},
		{"no key reference", base + "recordings:\n  master_keys: [{id: k1}]\n", nil, `master key "k1" has no key reference`},
		{"no keys", base + "recordings:\n  dir: x\n", nil, "recordings.master_keys: recordings need a master key"},
		{"two keys no current", two, map[string]string{"CARELINE_RECORDING_KEY": goodHex, "CARELINE_RECORDING_KEY_2": goodHex}, "several master keys and no current_key"},
		{"unknown current", recBase + "  current_key: k9\n", map[string]string{"CARELINE_RECORDING_KEY": goodHex}, `current_key "k9" is not a master key`},
		{"bad retention", recBase + "  retention_days: 0\n  chunk: 5ms\n", map[string]string{"CARELINE_RECORDING_KEY": goodHex}, "chunk 5ms out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("careline.yaml", []byte(tc.yaml), LoadOptions{LookupEnv: env(tc.env)})
			errs := is.Errors()
			if len(errs) != 1 || !strings.Contains(errs.Error(), tc.want) {
				t.Fatalf("want one error containing %q, got:\n%v", tc.want, errs)
			}
			if v := tc.env["CARELINE_RECORDING_KEY"]; len(v) > 4 && strings.Contains(errs.Error(), v) {
				t.Fatal("the error repeats the key material")
			}
		})
	}
	// config validate (AllowMissingSecrets) only warns about an unset variable.
	_, is := Parse("careline.yaml", []byte(recBase), LoadOptions{LookupEnv: env(nil), AllowMissingSecrets: true})
	if len(is.Errors()) != 0 || len(is.Warnings()) != 1 {
		t.Fatalf("validate mode: %v", is)
	}
}

func TestUsers(t *testing.T) {
	h1 := strings.Repeat("ab", 32)
	h2 := strings.Repeat("cd", 32)
	good := base + "users:\n  sup1: {role: supervisor, token_sha256: \"" + strings.ToUpper(h1) + "\", expires: \"2027-01-02T03:04:05Z\"}\n  aud1: {role: auditor, token_sha256: " + h2 + "}\n"
	c, is := Parse("t.yaml", []byte(good), LoadOptions{LookupEnv: env(nil)})
	if len(is.Errors()) != 0 {
		t.Fatalf("issues: %v", is)
	}
	if u := c.Users["sup1"]; u.Role != "supervisor" || u.TokenSHA256 != h1 || !u.Expires.Equal(time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)) {
		t.Fatalf("sup1 = %+v", u)
	}
	cases := []struct{ name, yaml, want string }{
		{"bad role", base + "users:\n  x: {role: root, token_sha256: " + h1 + "}\n", `users.x.role: unknown role "root"`},
		{"bad hash", base + "users:\n  x: {role: auditor, token_sha256: abc}\n", "users.x.token_sha256: token_sha256 must be 64 hex characters"},
		{"shared token", base + "users:\n  x: {role: auditor, token_sha256: " + h1 + "}\n  y: {role: supervisor, token_sha256: " + h1 + "}\n", "user y has the same token as x"},
		{"bad expiry", base + "users:\n  x: {role: auditor, token_sha256: " + h1 + ", expires: tomorrow}\n", "users.x.expires"},
		{"unknown field", base + "users:\n  x: {role: auditor, tokn: abc}\n", `unknown key "tokn"`},
		{"literal token refused", base + "users:\n  x: {role: auditor, token: hunter2}\n", `secrets must be environment references`},
		{"token env missing", base + "users:\n  x: {role: auditor, token: \"env:NO_SUCH_TOKEN\"}\n", `environment variable NO_SUCH_TOKEN is not set`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, is := Parse("t.yaml", []byte(tc.yaml), LoadOptions{LookupEnv: env(nil)})
			if !strings.Contains(is.Errors().Error(), tc.want) {
				t.Fatalf("want %q in:\n%v", tc.want, is.Errors())
			}
			if bytes.Contains([]byte(is.Errors().Error()), []byte("hunter2")) {
				t.Fatal("error repeats a token")
			}
		})
	}
}

// Package logx sets up careline's structured JSON logging and provides the helpers that
// keep protected health information (phone numbers, names, digits) out of log lines.
package logx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"strings"
	"unicode"
)

// Options configures New.
type Options struct {
	Level slog.Leveler // default slog.LevelInfo
}

// New returns a JSON slog.Logger writing to w.
func New(w io.Writer, opts Options) *slog.Logger {
	lvl := opts.Level
	if lvl == nil {
		lvl = slog.LevelInfo
	}
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lvl}))
}

// Discard returns a logger that drops everything (for tests and tools).
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// MaskPhone keeps only the last two digits of a phone number or SIP user part:
// "+1 (505) 555-0143" → "***43". Non-digit input of any length masks to "***".
func MaskPhone(s string) string {
	var digits []rune
	for _, r := range s {
		if r >= '0' && r <= '9' {
			digits = append(digits, r)
		}
	}
	if len(digits) < 4 {
		return "***"
	}
	return "***" + string(digits[len(digits)-2:])
}

// MaskName keeps the first letter of each word: "Ana María Ruiz" → "A. M. R.".
func MaskName(s string) string {
	var parts []string
	for _, w := range strings.Fields(s) {
		for _, r := range w {
			if unicode.IsLetter(r) {
				parts = append(parts, string(unicode.ToUpper(r))+".")
			}
			break
		}
	}
	if len(parts) == 0 {
		return "***"
	}
	return strings.Join(parts, " ")
}

// MaskURI masks the user part of a SIP URI ("sip:+15055550143@host" → "sip:***43@host")
// and drops any display name, so a URI can appear in a debug trace.
func MaskURI(s string) string {
	if i := strings.LastIndex(s, "<"); i >= 0 {
		s = s[i+1:]
		if j := strings.Index(s, ">"); j >= 0 {
			s = s[:j]
		}
	}
	scheme := ""
	if i := strings.Index(s, ":"); i >= 0 && i < 6 {
		scheme, s = s[:i+1], s[i+1:]
	}
	at := strings.Index(s, "@")
	if at < 0 {
		return scheme + MaskPhone(s)
	}
	return scheme + MaskPhone(s[:at]) + s[at:]
}

// Hasher produces stable, keyed, non-reversible tokens for values that must be
// correlated across log lines without being readable (e.g. a collected Rx number).
type Hasher struct{ key []byte }

// NewHasher returns a Hasher keyed with key; an empty key is allowed for tests only.
func NewHasher(key []byte) *Hasher { return &Hasher{key: append([]byte(nil), key...)} }

// Token returns "h:" plus 12 hex characters of HMAC-SHA-256(key, v).
func (h *Hasher) Token(v string) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(v))
	return "h:" + hex.EncodeToString(m.Sum(nil))[:12]
}

// DigitsCategory describes a digit string without revealing it: "len:7".
func DigitsCategory(d string) string {
	n := 0
	for _, r := range d {
		if r >= '0' && r <= '9' || r == '*' || r == '#' {
			n++
		}
	}
	return "len:" + itoa(n)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

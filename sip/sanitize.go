package sip

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxHeaderValueLen bounds any header value built from data (display names,
// caller IDs, transfer targets). Longer values are cut at a rune boundary.
const maxHeaderValueLen = 256

// SanitizeHeaderValue makes s safe to place in a SIP header value: it removes
// CR, LF, NUL and every other control character (HTAB becomes a space),
// drops invalid UTF-8, trims surrounding space and bounds the length. sipgo
// v1.7.2 writes header values verbatim (the README's sip.ValidateRequest does
// not exist), so every value built from data — a patient's display name, a
// campaign caller ID, a transfer target — must pass through here; a CR/LF in
// such a value would otherwise start a new header line.
func SanitizeHeaderValue(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size <= 1:
			continue
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r), r == '\u2028', r == '\u2029':
			continue
		default:
			b.WriteRune(r)
		}
	}
	return truncateRunes(strings.TrimSpace(b.String()), maxHeaderValueLen)
}

// SanitizeDisplayName returns s safe to write inside a quoted display name:
// SanitizeHeaderValue plus removal of the characters that would end or
// escape the quoted-string (`"` and `\`).
func SanitizeDisplayName(s string) string {
	s = SanitizeHeaderValue(s)
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// SanitizeURIUser returns s usable as the user part of a SIP URI: characters
// outside RFC 3261's user grammar (unreserved / user-unreserved) are
// percent-escaped, controls are dropped, and the result is bounded.
func SanitizeURIUser(s string) string {
	s = SanitizeHeaderValue(s)
	var b strings.Builder
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUserChar(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&0x0f])
	}
	return truncateRunes(b.String(), maxHeaderValueLen)
}

// isUserChar reports whether c may appear unescaped in a SIP URI user part
// (RFC 3261 §25.1: unreserved / user-unreserved).
func isUserChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')', // mark
		'&', '=', '+', '$', ',', ';', '?', '/': // user-unreserved
		return true
	}
	return false
}

func truncateRunes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// hasControl reports whether s contains a control character other than HTAB.
func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

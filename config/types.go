package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Secret is a reference to a secret value kept outside the file: "env:NAME".
// Literal secrets are refused so that passwords never sit in the config file.
type Secret struct {
	Env   string // variable name
	value string
	set   bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Secret) UnmarshalText(b []byte) error {
	v := string(b)
	if v == "" {
		return nil
	}
	name, ok := strings.CutPrefix(v, "env:")
	if !ok || !validEnvName(name) {
		return Fixable(`write it as "env:NAME" and set the environment variable NAME`,
			"secrets must be environment references, not literal values")
	}
	s.Env = name
	return nil
}

// IsZero reports whether no secret was configured.
func (s Secret) IsZero() bool { return s.Env == "" }

// Value returns the resolved secret (empty before Resolve).
func (s Secret) Value() string { return s.value }

// Resolved reports whether the referenced variable was found.
func (s Secret) Resolved() bool { return s.set }

// String never prints the value.
func (s Secret) String() string {
	if s.Env == "" {
		return ""
	}
	return "env:" + s.Env
}

// Ref is a value that may be written literally or as "env:NAME" (for URLs that may
// carry credentials).
type Ref struct {
	Env     string
	Literal string
	value   string
	set     bool
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Ref) UnmarshalText(b []byte) error {
	v := string(b)
	if name, ok := strings.CutPrefix(v, "env:"); ok {
		if !validEnvName(name) {
			return Fixable(`write "env:NAME" with a valid variable name`, "bad environment reference %q", v)
		}
		r.Env = name
		return nil
	}
	r.Literal = v
	return nil
}

// Value returns the resolved value.
func (r Ref) Value() string {
	if r.Env != "" {
		return r.value
	}
	return r.Literal
}

// Set replaces the value (used for environment overrides).
func (r *Ref) Set(v string) { r.Env, r.Literal, r.value, r.set = "", v, v, true }

func validEnvName(n string) bool {
	if n == "" {
		return false
	}
	for i, c := range n {
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Size is a byte count written as "64MiB", "1GiB", "500KB" or a plain number.
type Size int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v := strings.TrimSpace(string(b))
	units := []struct {
		suffix string
		mult   int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(v, u.suffix); ok {
			v, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return Fixable(`write a size such as "512MiB" or "2GiB"`, "%q is not a size", string(b))
	}
	*s = Size(n * mult)
	return nil
}

// PortRange is "min-max", e.g. "20000-29999".
type PortRange struct{ Min, Max int }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *PortRange) UnmarshalText(b []byte) error {
	lo, hi, ok := strings.Cut(string(b), "-")
	a, err1 := strconv.Atoi(strings.TrimSpace(lo))
	z, err2 := strconv.Atoi(strings.TrimSpace(hi))
	if !ok || err1 != nil || err2 != nil || a < 1024 || z > 65535 || a >= z {
		return Fixable(`write "min-max" with 1024 <= min < max <= 65535, e.g. "20000-29999"`, "%q is not a port range", string(b))
	}
	p.Min, p.Max = a, z
	return nil
}

// String formats the range.
func (p PortRange) String() string { return fmt.Sprintf("%d-%d", p.Min, p.Max) }

// Prefix is an IP address or CIDR block; a bare address means a single host.
type Prefix struct{ netip.Prefix }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Prefix) UnmarshalText(b []byte) error {
	s := string(b)
	if pr, err := netip.ParsePrefix(s); err == nil {
		p.Prefix = pr.Masked()
		return nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		p.Prefix = netip.PrefixFrom(a, a.BitLen())
		return nil
	}
	return Fixable(`write an address or CIDR such as "203.0.113.10" or "203.0.113.0/24"`, "%q is not an IP address or CIDR", s)
}

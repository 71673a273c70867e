package config

import (
	"fmt"
	"sort"
	"strings"
)

// Severity of a configuration issue.
type Severity int

const (
	// Error stops the engine from starting.
	Error Severity = iota
	// Warning is reported but does not stop the engine.
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Issue is one problem found in a configuration file. Path is the YAML path of the
// offending node ("flows.main.nodes.greet.next"); Line and Col are filled in by the
// loader from its position index, so validators in other packages only need the path.
type Issue struct {
	File     string
	Line     int
	Col      int
	Path     string
	Severity Severity
	Msg      string // what is wrong
	Fix      string // what to change
}

func (i Issue) String() string {
	var b strings.Builder
	if i.File != "" {
		b.WriteString(i.File)
		if i.Line > 0 {
			fmt.Fprintf(&b, ":%d", i.Line)
			if i.Col > 0 {
				fmt.Fprintf(&b, ":%d", i.Col)
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(i.Severity.String())
	b.WriteString(": ")
	if i.Path != "" {
		b.WriteString(i.Path)
		b.WriteString(": ")
	}
	b.WriteString(i.Msg)
	if i.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(i.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// Issues is a list of problems; as an error it reports all of them.
type Issues []Issue

// Errors returns only the issues of severity Error.
func (is Issues) Errors() Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == Error {
			out = append(out, i)
		}
	}
	return out
}

// Warnings returns only the issues of severity Warning.
func (is Issues) Warnings() Issues {
	var out Issues
	for _, i := range is {
		if i.Severity == Warning {
			out = append(out, i)
		}
	}
	return out
}

// Sort orders issues by file position, then path.
func (is Issues) Sort() {
	sort.SliceStable(is, func(a, b int) bool {
		if is[a].Line != is[b].Line {
			return is[a].Line < is[b].Line
		}
		if is[a].Col != is[b].Col {
			return is[a].Col < is[b].Col
		}
		return is[a].Path < is[b].Path
	})
}

func (is Issues) Error() string {
	lines := make([]string, len(is))
	for n, i := range is {
		lines[n] = i.String()
	}
	return strings.Join(lines, "\n")
}

// Reporter collects issues against YAML paths.
type Reporter struct{ issues Issues }

// Errorf records an error at path.
func (r *Reporter) Errorf(path, fix, format string, args ...any) {
	r.issues = append(r.issues, Issue{Path: path, Severity: Error, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// Warnf records a warning at path.
func (r *Reporter) Warnf(path, fix, format string, args ...any) {
	r.issues = append(r.issues, Issue{Path: path, Severity: Warning, Msg: fmt.Sprintf(format, args...), Fix: fix})
}

// Issues returns what was recorded.
func (r *Reporter) Issues() Issues { return r.issues }

// Join builds a child path: Join("flows", "main") = "flows.main"; an index is "[3]".
func Join(parent string, elems ...string) string {
	p := parent
	for _, e := range elems {
		switch {
		case strings.HasPrefix(e, "["):
			p += e
		case p == "":
			p = e
		default:
			p += "." + e
		}
	}
	return p
}

// sortedKeys returns a map's keys in order, so issues come out deterministically.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

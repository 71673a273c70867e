package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Pos is a position in the YAML source.
type Pos struct{ Line, Col int }

// decoder turns a goccy AST into typed structs. It exists (instead of yaml.Unmarshal in
// strict mode) so that every problem is collected with its position, not only the first,
// and so that it can insist on quoted DTMF keys.
type decoder struct {
	pos    map[string]Pos
	issues Issues
	depth  int
}

var (
	durationType        = reflect.TypeOf(time.Duration(0))
	textUnmarshalerType = reflect.TypeOf((*encoding.TextUnmarshaler)(nil)).Elem()
)

// decodeYAML parses src and decodes it into out (a pointer to a struct), returning the
// position index and every issue found.
func decodeYAML(src []byte, out any) (map[string]Pos, Issues) {
	d := &decoder{pos: map[string]Pos{}}
	f, err := parser.ParseBytes(src, 0)
	if err != nil {
		line, col := 0, 0
		msg := err.Error()
		if te, ok := err.(interface {
			GetToken() *token.Token
			GetMessage() string
		}); ok && te.GetToken() != nil {
			line, col = te.GetToken().Position.Line, te.GetToken().Position.Column
			msg = te.GetMessage()
		}
		return d.pos, Issues{{Line: line, Col: col, Severity: Error, Msg: "YAML syntax: " + msg,
			Fix: "check indentation and quoting near this line"}}
	}
	if len(f.Docs) != 1 || f.Docs[0].Body == nil {
		return d.pos, Issues{{Line: 1, Severity: Error, Msg: "the file must hold exactly one YAML document", Fix: "remove extra '---' separators"}}
	}
	d.pos[""] = Pos{1, 1}
	d.decode("", f.Docs[0].Body, reflect.ValueOf(out).Elem())
	return d.pos, d.issues
}

func (d *decoder) errf(n ast.Node, path, fix, format string, args ...any) {
	p := nodePos(n)
	d.issues = append(d.issues, Issue{Line: p.Line, Col: p.Col, Path: path, Severity: Error,
		Msg: fmt.Sprintf(format, args...), Fix: fix})
}

func nodePos(n ast.Node) Pos {
	if n == nil || n.GetToken() == nil {
		return Pos{}
	}
	t := n.GetToken().Position
	return Pos{t.Line, t.Column}
}

// unwrap resolves anchors, aliases and tags to the node that carries the value.
func unwrap(n ast.Node) ast.Node {
	for i := 0; i < 32 && n != nil; i++ {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.AliasNode:
			return v // resolved by caller via the anchor map is not supported; reported
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
	return n
}

func kindName(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.IntegerNode:
		return "a number"
	case *ast.FloatNode:
		return "a number"
	case *ast.BoolNode:
		return "true/false"
	case *ast.NullNode:
		return "an empty value"
	default:
		return "text"
	}
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 5s or 2m"
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		return "text"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	case reflect.String:
		return "text"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// mappingEntries returns the key/value pairs of a mapping node (block or flow style).
func mappingEntries(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch v := n.(type) {
	case *ast.MappingNode:
		return v.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}, true
	}
	return nil, false
}

func (d *decoder) decode(path string, n ast.Node, v reflect.Value) {
	d.depth++
	defer func() { d.depth-- }()
	if d.depth > 64 {
		d.errf(n, path, "simplify the structure", "nesting is too deep")
		return
	}
	n = unwrap(n)
	if n == nil {
		return
	}
	if _, ok := n.(*ast.AliasNode); ok {
		d.errf(n, path, "repeat the values instead of using an alias", "YAML aliases (*name) are not supported")
		return
	}
	if _, ok := n.(*ast.NullNode); ok {
		return // empty value: leave the zero value; validators check required fields
	}
	d.pos[path] = nodePos(n)

	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(path, n, v.Elem())
		return
	}
	if v.Type() == durationType {
		s, ok := scalarText(n)
		if !ok {
			d.errf(n, path, `write a duration such as "5s" or "2m"`, "expected a duration, found %s", kindName(n))
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errf(n, path, `write a duration such as "5s", "250ms" or "2m"`, "%q is not a duration", s)
			return
		}
		v.SetInt(int64(dur))
		return
	}
	if v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		s, ok := scalarText(n)
		if !ok {
			d.errf(n, path, "write a single value here", "expected text, found %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			d.errf(n, path, fixOf(err), "%s", msgOf(err))
		}
		return
	}

	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(path, n, v)
	case reflect.Map:
		d.decodeMap(path, n, v, "")
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			d.errf(n, path, "write a list, e.g. [a, b] or one '- item' per line", "expected a list, found %s", kindName(n))
			return
		}
		out := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			d.decode(fmt.Sprintf("%s[%d]", path, i), item, out.Index(i))
		}
		v.Set(out)
	case reflect.String:
		s, ok := scalarText(n)
		if !ok {
			d.errf(n, path, "write a single text value", "expected text, found %s", kindName(n))
			return
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := n.(*ast.BoolNode)
		if !ok {
			d.errf(n, path, "write true or false", "expected true or false, found %s", kindName(n))
			return
		}
		v.SetBool(b.Value)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		in, ok := n.(*ast.IntegerNode)
		if !ok {
			d.errf(n, path, "write a whole number without quotes", "expected a whole number, found %s", kindName(n))
			return
		}
		i, err := strconv.ParseInt(fmt.Sprint(in.Value), 10, 64)
		if err != nil || v.OverflowInt(i) {
			d.errf(n, path, "use a smaller number", "number out of range")
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		in, ok := n.(*ast.IntegerNode)
		if !ok {
			d.errf(n, path, "write a whole number without quotes", "expected a whole number, found %s", kindName(n))
			return
		}
		u, err := strconv.ParseUint(fmt.Sprint(in.Value), 10, 64)
		if err != nil || v.OverflowUint(u) {
			d.errf(n, path, "use a non-negative number in range", "number out of range")
			return
		}
		v.SetUint(u)
	case reflect.Float32, reflect.Float64:
		switch fv := n.(type) {
		case *ast.FloatNode:
			v.SetFloat(fv.Value)
		case *ast.IntegerNode:
			f, _ := strconv.ParseFloat(fmt.Sprint(fv.Value), 64)
			v.SetFloat(f)
		default:
			d.errf(n, path, "write a number without quotes", "expected a number, found %s", kindName(n))
		}
	case reflect.Interface:
		d.errf(n, path, "", "internal: untyped config field")
	default:
		d.errf(n, path, "", "internal: unsupported config field type %s", v.Type())
	}
}

// scalarText returns the source text of a scalar node as written, so that 0123 stays
// "0123" when the target is text.
func scalarText(n ast.Node) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return v.Value.Value, true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return n.GetToken().Value, true
	}
	return "", false
}

func isQuoted(n ast.Node) bool {
	t := n.GetToken()
	return t != nil && (t.Type == token.DoubleQuoteType || t.Type == token.SingleQuoteType)
}

type fieldInfo struct {
	index      int
	quotedKeys bool
	inline     bool
}

func structFields(t reflect.Type) map[string]fieldInfo {
	m := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		parts := strings.Split(tag, ",")
		name := parts[0]
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fi := fieldInfo{index: i}
		for _, p := range parts[1:] {
			switch p {
			case "quotedkeys":
				fi.quotedKeys = true
			case "inline":
				fi.inline = true
			}
		}
		m[name] = fi
	}
	return m
}

func (d *decoder) decodeStruct(path string, n ast.Node, v reflect.Value) {
	entries, ok := mappingEntries(n)
	if !ok {
		d.errf(n, path, "write key: value pairs here", "expected a mapping, found %s", kindName(n))
		return
	}
	fields := structFields(v.Type())
	seen := map[string]bool{}
	for _, e := range entries {
		if _, merge := e.Key.(*ast.MergeKeyNode); merge {
			d.errf(e.Key, path, "write the keys out in full", "YAML merge keys (<<) are not supported")
			continue
		}
		key, ok := scalarText(unwrap(e.Key))
		if !ok {
			d.errf(e.Key, path, "use a plain text key", "keys must be text")
			continue
		}
		child := Join(path, key)
		if seen[key] {
			d.errf(e.Key, child, "keep only one of them", "duplicate key %q", key)
			continue
		}
		seen[key] = true
		fi, ok := fields[key]
		if !ok {
			d.errf(e.Key, child, suggest(key, fields), "unknown key %q", key)
			continue
		}
		fv := v.Field(fi.index)
		if fi.quotedKeys && fv.Kind() == reflect.Map {
			d.pos[child] = nodePos(unwrap(e.Value))
			d.decodeMap(child, unwrap(e.Value), fv, "quoted")
			continue
		}
		d.decode(child, e.Value, fv)
		if _, ok := d.pos[child]; !ok {
			d.pos[child] = nodePos(e.Key)
		}
	}
}

func suggest(key string, fields map[string]fieldInfo) string {
	best, bestD := "", 3
	for k := range fields {
		if dd := EditDistance(key, k); dd < bestD {
			best, bestD = k, dd
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q?", best)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	slices.Sort(names)
	return "allowed keys here: " + strings.Join(names, ", ")
}

func (d *decoder) decodeMap(path string, n ast.Node, v reflect.Value, mode string) {
	if n == nil {
		return
	}
	if _, ok := n.(*ast.NullNode); ok {
		return
	}
	entries, ok := mappingEntries(n)
	if !ok {
		d.errf(n, path, "write key: value pairs here", "expected a mapping, found %s", kindName(n))
		return
	}
	if v.Type().Key().Kind() != reflect.String {
		d.errf(n, path, "", "internal: map keys must be text")
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(v.Type()))
	}
	for _, e := range entries {
		kn := unwrap(e.Key)
		key, ok := scalarText(kn)
		if !ok {
			d.errf(e.Key, path, "use a plain text key", "keys must be text")
			continue
		}
		child := Join(path, key)
		if mode == "quoted" && !isQuoted(kn) {
			d.errf(e.Key, child, fmt.Sprintf(`write the key in quotes: "%s"`, key),
				"DTMF key %s must be a quoted string", key)
			continue
		}
		if v.MapIndex(reflect.ValueOf(key).Convert(v.Type().Key())).IsValid() {
			d.errf(e.Key, child, "keep only one of them", "duplicate key %q", key)
			continue
		}
		elem := reflect.New(v.Type().Elem()).Elem()
		d.pos[child] = nodePos(e.Key)
		d.decode(child, e.Value, elem)
		d.pos[child] = nodePos(e.Key)
		v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), elem)
	}
}

// EditDistance is the Levenshtein distance between short identifiers (99 for strings
// longer than 64 bytes), for "did you mean ...?" suggestions in validators.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fixError lets a TextUnmarshaler say what to change.
type fixError struct{ msg, fix string }

func (e *fixError) Error() string { return e.msg }

// Fixable returns an error carrying a message and a suggested fix, for UnmarshalText
// implementations.
func Fixable(fix, format string, args ...any) error {
	return &fixError{msg: fmt.Sprintf(format, args...), fix: fix}
}

func msgOf(err error) string { return err.Error() }

func fixOf(err error) string {
	if fe, ok := err.(*fixError); ok {
		return fe.fix
	}
	return ""
}

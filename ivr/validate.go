package ivr

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careline/careline/config"
	"github.com/careline/careline/ivr/prompts"
	"github.com/careline/careline/say"
)

// ValidateOption adds knowledge Validate does not find in the config itself.
type ValidateOption func(*checker)

// WithKnownQueues makes Validate check that every queue node names one of these
// queues. Queues are defined by the routing section of the config; until the
// caller passes their names, queue names are not checked (any name is accepted).
func WithKnownQueues(names ...string) ValidateOption {
	return func(c *checker) {
		c.queues = map[string]bool{}
		for _, n := range names {
			c.queues[n] = true
		}
	}
}

// Validate checks every flow of cfg: node references, reachability (unreachable
// nodes are warnings), loops with no way out, prompts missing from the manifest or
// from one of the site's languages (skipped when manifest is nil), unknown
// schedules, digit bounds, terminators that are also option keys, languages not in
// site.languages, and the shape of each node. Issues carry YAML paths and are
// located (file:line) with cfg.Locate.
func Validate(cfg *config.Config, manifest *prompts.Manifest, opts ...ValidateOption) config.Issues {
	c := newChecker(cfg.Site.Languages, sortedKeys(cfg.Schedules), manifest)
	for _, o := range opts {
		o(c)
	}
	// A flow a campaign runs gets the campaign's variables before its first node.
	c.preset = map[string]map[string]bool{}
	for _, cp := range cfg.Campaigns {
		if cp == nil || cp.Flow == "" {
			continue
		}
		if c.preset[cp.Flow] == nil {
			c.preset[cp.Flow] = map[string]bool{}
		}
		for _, v := range config.CampaignVars(cp.Purpose) {
			c.preset[cp.Flow][v] = true
		}
	}
	c.checkFlows(cfg.Flows)
	is := cfg.Locate(c.r.Issues())
	is.Sort()
	return is
}

type checker struct {
	r         config.Reporter
	langs     []string
	langSet   map[string]bool
	schedules map[string]bool
	manifest  *prompts.Manifest
	queues    map[string]bool            // nil: not checked
	preset    map[string]map[string]bool // flow -> variables set before it starts (campaigns)
}

func newChecker(langs, schedules []string, manifest *prompts.Manifest) *checker {
	c := &checker{langs: langs, langSet: map[string]bool{}, schedules: map[string]bool{}, manifest: manifest}
	for _, l := range langs {
		c.langSet[l] = true
	}
	for _, s := range schedules {
		c.schedules[s] = true
	}
	return c
}

var (
	dtmfKey      = regexp.MustCompile(`^[0-9*#]$`)
	varName      = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
	eventName    = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	numberTarget = regexp.MustCompile(`^\+?[0-9]{2,15}$`)
	nameRE       = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)
)

func (c *checker) checkFlows(flows map[string]*config.Flow) {
	for _, name := range sortedKeys(flows) {
		c.checkFlow(name, flows[name])
	}
}

func (c *checker) checkFlow(name string, f *config.Flow) {
	p := config.Join("flows", name)
	if !nameRE.MatchString(name) {
		c.r.Errorf(p, "use letters, digits, '_', '-' and '.' only", "bad flow name %q", name)
	}
	if f == nil {
		c.r.Errorf(p, "give the flow start: and nodes:", "empty flow")
		return
	}
	nodes := sortedKeys(f.Nodes)
	if len(nodes) == 0 {
		c.r.Errorf(p, "add nodes: with at least one node", "flow has no nodes")
		return
	}
	switch {
	case f.Start == "":
		c.r.Errorf(config.Join(p, "start"), "write start: <node name>, e.g. start: "+nodes[0], "flow has no start node")
	case f.Nodes[f.Start] == nil && !slices.Contains(nodes, f.Start):
		c.r.Errorf(config.Join(p, "start"), refFix(f.Start, nodes), "start node %q does not exist", f.Start)
	}
	sets := map[string]bool{}
	for v := range c.preset[name] {
		sets[v] = true
	}
	lookup := false
	for _, nn := range nodes {
		if n := f.Nodes[nn]; n != nil {
			if n.Collect != nil && n.Collect.Into != "" {
				sets[n.Collect.Into] = true
			}
			if n.Menu != nil && n.Menu.Match != nil && n.Menu.Match.Into != "" {
				sets[n.Menu.Match.Into] = true
			}
			if n.Branch != nil && n.Branch.Lookup != nil {
				lookup = true
			}
		}
	}
	for _, nn := range nodes {
		c.checkNode(f, name, nn, sets, lookup)
	}
	// Graph checks.
	g := newGraph(f)
	reach := g.reachable(f.Start)
	if len(reach) > 0 {
		for _, nn := range nodes {
			if !reach[nn] {
				c.r.Warnf(config.Join(p, "nodes", nn), "reference it from another node (next, an option, on_failure) or remove it",
					"node %q cannot be reached from start node %q", nn, f.Start)
			}
		}
	}
	ends := g.canEnd(f)
	doomed := map[string]bool{}
	for _, nn := range nodes {
		if !ends[nn] {
			doomed[nn] = true
		}
	}
	for _, comp := range g.sccs(doomed) {
		if len(comp) == 1 && !slices.Contains(g.succ[comp[0]], comp[0]) {
			continue // leads into a loop reported on its own
		}
		what := "nodes " + strings.Join(comp, ", ") + " loop"
		if len(comp) == 1 {
			what = "node " + comp[0] + " loops"
		}
		c.r.Errorf(config.Join(p, "nodes", comp[0]),
			"give one of them a way out, e.g. a menu option, on_failure or next that leads to a hangup, queue, transfer, voicemail or callback_request node",
			"%s with no way out: none leads to a hangup, queue, transfer, voicemail or callback_request node", what)
	}
}

func refFix(target string, nodes []string) string {
	best, bestD := "", 3
	for _, n := range nodes {
		if d := config.EditDistance(target, n); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" {
		return fmt.Sprintf("did you mean %q? (or add a node named %q)", best, target)
	}
	list := nodes
	if len(list) > 12 {
		list = append(slices.Clone(list[:12]), "...")
	}
	return fmt.Sprintf("add a node named %q, or use one of: %s", target, strings.Join(list, ", "))
}

func (c *checker) checkNode(f *config.Flow, flow, name string, sets map[string]bool, lookup bool) {
	base := config.Join("flows", flow, "nodes", name)
	n := f.Nodes[name]
	if !nameRE.MatchString(name) {
		c.r.Errorf(base, "use letters, digits, '_', '-' and '.' only", "bad node name %q", name)
	}
	if n == nil {
		c.r.Errorf(base, "give the node one kind, e.g. hangup: {}", "empty node")
		return
	}
	kinds := n.Kinds()
	switch len(kinds) {
	case 0:
		c.r.Errorf(base, "add exactly one of: "+strings.Join(config.NodeKinds(), ", ")+" (an empty kind is written {}, e.g. hangup: {})",
			"node has no kind")
		return
	case 1:
	default:
		c.r.Errorf(config.Join(base, kinds[1]), "keep one kind per node; split it into two nodes joined by next",
			"node has several kinds: %s", strings.Join(kinds, ", "))
		return
	}
	kind := kinds[0]
	kp := config.Join(base, kind)
	nodes := sortedKeys(f.Nodes)

	// References.
	for _, e := range nodeEdges(base, n) {
		switch {
		case e.target == "" && e.required:
			field := e.path[strings.LastIndex(e.path, ".")+1:]
			c.r.Errorf(e.path, fmt.Sprintf("write %s: <node name>", field), "missing %s", field)
		case e.target != "" && f.Nodes[e.target] == nil:
			c.r.Errorf(e.path, refFix(e.target, nodes), "node %q does not exist", e.target)
		}
	}
	if n.Next != "" && !nextKinds[kind] {
		what := "ends the flow"
		if !terminalKinds[kind] {
			what = "chooses its next node itself"
		}
		c.r.Errorf(config.Join(base, "next"), "remove next (write the following node in the "+kind+" node's own fields)",
			"a %s node %s; next is not used", kind, what)
	}
	// Event.
	if n.Event != "" {
		if !eventName.MatchString(n.Event) || strings.HasPrefix(n.Event, "ivr.") {
			c.r.Errorf(config.Join(base, "event"), `name it domain.action in lower case, e.g. refill.requested (names starting with "ivr." are reserved)`,
				"bad event name %q", n.Event)
		}
	}
	if n.EventVar != "" {
		if n.Event == "" {
			c.r.Errorf(config.Join(base, "event_var"), "add event: <name> or remove event_var", "event_var without event")
		}
		c.checkVarRef(config.Join(base, "event_var"), n.EventVar, sets, lookup)
	}

	switch kind {
	case "menu":
		c.checkMenu(kp, n.Menu)
	case "play":
		if len(n.Play.Prompts) == 0 && len(n.Play.PlayIn) == 0 {
			c.r.Errorf(kp, "add prompts: [<prompt id>]", "play node has no prompts")
		}
		c.checkPrompts(config.Join(kp, "prompts"), n.Play.Prompts)
		c.checkPlayIn(config.Join(kp, "play_in"), n.Play.PlayIn)
	case "collect":
		c.checkCollect(kp, n.Collect)
	case "say":
		c.checkSay(kp, n.Say, sets, lookup)
	case "set_language":
		c.checkLang(config.Join(kp, "language"), n.SetLanguage.Language, true)
	case "branch_hours":
		c.checkSchedule(config.Join(kp, "schedule"), n.BranchHours.Schedule)
	case "branch":
		c.checkBranch(kp, n.Branch, sets, lookup)
	case "queue":
		c.checkQueue(kp, n.Queue)
	case "transfer":
		t := n.Transfer
		switch {
		case t.Target == "":
			c.r.Errorf(config.Join(kp, "target"), `write target: "sip:pharmacy@10.0.0.5" or a number such as "+15125550199"`, "transfer has no target")
		case strings.HasPrefix(t.Target, "sip:") || strings.HasPrefix(t.Target, "sips:"):
			if !strings.Contains(t.Target, "@") && len(t.Target) < 6 {
				c.r.Errorf(config.Join(kp, "target"), `write a SIP URI such as "sip:1001@pbx.example"`, "bad SIP URI %q", t.Target)
			}
		case !numberTarget.MatchString(t.Target):
			c.r.Errorf(config.Join(kp, "target"), `write a SIP URI ("sip:...") or a number of digits with an optional +`, "bad transfer target %q", t.Target)
		}
		c.checkPrompts(config.Join(kp, "prompts"), t.Prompts)
		c.checkPrompt(kp, sorryPrompt, c.langs) // played when the transfer fails
	case "voicemail":
		c.checkVoicemail(kp, n.Voicemail)
	case "callback_request":
		c.checkCallback(kp, n.CallbackRequest)
	case "hangup":
		c.checkPrompts(config.Join(kp, "prompts"), n.Hangup.Prompts)
	}
}

func (c *checker) checkMenu(p string, m *config.MenuNode) {
	if len(m.Prompts) == 0 && len(m.PlayIn) == 0 {
		c.r.Warnf(p, "add prompts: [<prompt id>] so the caller knows what to press", "menu plays no prompt")
	}
	c.checkPrompts(config.Join(p, "prompts"), m.Prompts)
	c.checkPlayIn(config.Join(p, "play_in"), m.PlayIn)
	c.checkPrompts(config.Join(p, "short_prompts"), m.ShortPrompts)
	c.checkPrompts(config.Join(p, "invalid_prompts"), menuInvalid(m))
	c.checkPrompts(config.Join(p, "timeout_prompts"), menuTimeout(m))
	c.checkPrompts(config.Join(p, "failure_prompts"), m.FailurePrompts)
	c.checkTimeout(config.Join(p, "timeout"), m.Timeout)
	c.checkTimeout(config.Join(p, "inter_digit_timeout"), m.InterDigitTimeout)
	c.checkCounter(config.Join(p, "max_failures"), m.MaxFailures)
	c.checkCounter(config.Join(p, "max_timeouts"), m.MaxTimeouts)
	if len(m.Options) == 0 && m.Match == nil {
		c.r.Errorf(p, `add options: {"1": {next: <node>}}`, "menu has no options")
	}
	for _, k := range sortedKeys(m.Options) {
		op := config.Join(p, "options", k)
		o := m.Options[k]
		if !dtmfKey.MatchString(k) {
			c.r.Errorf(op, `use one key: "0"-"9", "*" or "#" (for longer entries use match:)`, "DTMF key %q must be a single key", k)
		}
		if o == nil {
			c.r.Errorf(op, `write {next: <node>} or {repeat: true}`, "empty option")
			continue
		}
		switch {
		case o.Repeat && (o.Next != "" || o.SetLanguage != ""):
			c.r.Errorf(op, "keep either repeat: true or next (with set_language)", "option both repeats the menu and leaves it")
		case o.SetLanguage != "":
			c.checkLang(config.Join(op, "set_language"), o.SetLanguage, true)
		}
	}
	term := orString(m.Terminator, DefaultTerminator)
	c.checkTerminator(config.Join(p, "terminator"), term)
	if m.Match != nil || m.Terminator != nil {
		for _, k := range term {
			if _, ok := m.Options[string(k)]; ok {
				c.r.Errorf(config.Join(p, "options", string(k)), fmt.Sprintf(`use another key for this option, or set terminator: "" (or another key) on the menu`),
					"key %q is both an option and the terminator", string(k))
			}
		}
	}
	if mm := m.Match; mm != nil {
		mp := config.Join(p, "match")
		if mm.Pattern == "" {
			c.r.Errorf(config.Join(mp, "pattern"), `write pattern: "^1[0-9]{3}$"`, "match has no pattern")
		} else if _, err := regexp.Compile(mm.Pattern); err != nil {
			c.r.Errorf(config.Join(mp, "pattern"), "fix the regular expression (Go RE2 syntax)", "bad pattern: %v", err)
		}
		if mm.MaxDigits != 0 && (mm.MaxDigits < 2 || mm.MaxDigits > maxDigits) {
			c.r.Errorf(config.Join(mp, "max_digits"), fmt.Sprintf("use 2 to %d", maxDigits), "max_digits %d out of range", mm.MaxDigits)
		}
		if mm.Into != "" && !varName.MatchString(mm.Into) {
			c.r.Errorf(config.Join(mp, "into"), "use a lower-case name such as extension", "bad variable name %q", mm.Into)
		}
	}
}

func (c *checker) checkCollect(p string, x *config.CollectNode) {
	if len(x.Prompts) == 0 {
		c.r.Errorf(p, "add prompts: [<prompt id>] asking for the entry", "collect node has no prompts")
	}
	c.checkPrompts(config.Join(p, "prompts"), x.Prompts)
	c.checkPrompts(config.Join(p, "invalid_prompts"), collectInvalid(x))
	c.checkPrompts(config.Join(p, "timeout_prompts"), collectTimeout(x))
	c.checkPrompts(config.Join(p, "failure_prompts"), x.FailurePrompts)
	c.checkTimeout(config.Join(p, "timeout"), x.Timeout)
	c.checkTimeout(config.Join(p, "inter_digit_timeout"), x.InterDigitTimeout)
	c.checkCounter(config.Join(p, "max_attempts"), x.MaxAttempts)
	c.checkDigits(p, x.MinDigits, x.MaxDigits, 1, DefaultCollectMax)
	c.checkTerminator(config.Join(p, "terminator"), orString(x.Terminator, DefaultTerminator))
	switch {
	case x.Into == "":
		c.r.Errorf(config.Join(p, "into"), "write into: <variable>, e.g. into: rx_number", "collect node has no into variable")
	case !varName.MatchString(x.Into):
		c.r.Errorf(config.Join(p, "into"), "use a lower-case name such as rx_number", "bad variable name %q", x.Into)
	}
	switch x.Validate {
	case "", "length", "luhn":
		if x.Pattern != "" {
			c.r.Errorf(config.Join(p, "pattern"), "add validate: regex or remove pattern", "pattern is only used with validate: regex")
		}
	case "regex":
		if x.Pattern == "" {
			c.r.Errorf(config.Join(p, "pattern"), `write pattern: "^[0-9]{7}$"`, "validate: regex needs a pattern")
		} else if _, err := regexp.Compile(x.Pattern); err != nil {
			c.r.Errorf(config.Join(p, "pattern"), "fix the regular expression (Go RE2 syntax)", "bad pattern: %v", err)
		}
	default:
		c.r.Errorf(config.Join(p, "validate"), "use length, luhn or regex", "unknown validation %q", x.Validate)
	}
}

func (c *checker) checkDigits(p string, lo, hi, defLo, defHi int) {
	mn, mx := orInt(lo, defLo), orInt(hi, defHi)
	if lo < 0 || hi < 0 || mx > maxDigits {
		c.r.Errorf(config.Join(p, "max_digits"), fmt.Sprintf("use digit counts between 1 and %d", maxDigits), "digit count out of range")
		return
	}
	if mn > mx {
		c.r.Errorf(config.Join(p, "min_digits"), fmt.Sprintf("make min_digits (%d) at most max_digits (%d)", mn, mx),
			"min_digits %d is more than max_digits %d", mn, mx)
	}
}

var sayKinds = []string{"number", "digits", "date", "time", "datetime", "money", "hours"}

func (c *checker) checkSay(p string, s *config.SayNode, sets map[string]bool, lookup bool) {
	c.checkPrompts(config.Join(p, "before"), s.Before)
	c.checkPrompts(config.Join(p, "after"), s.After)
	if !slices.Contains(sayKinds, s.As) {
		c.r.Errorf(config.Join(p, "as"), "use one of: "+strings.Join(sayKinds, ", "), "unknown or missing say kind %q", s.As)
		return
	}
	if s.As == "hours" {
		c.checkSchedule(config.Join(p, "schedule"), s.Schedule)
		if s.Var != "" || s.Value != "" {
			c.r.Errorf(p, "remove var and value: hours come from the schedule", "say hours takes no var or value")
		}
		return
	}
	if s.Schedule != "" {
		c.r.Errorf(config.Join(p, "schedule"), "remove schedule (it is only used with as: hours)", "schedule is not used by say %s", s.As)
	}
	switch {
	case s.Var == "" && s.Value == "":
		c.r.Errorf(p, "add var: <variable> or value: <literal>", "say has nothing to say")
	case s.Var != "" && s.Value != "":
		c.r.Errorf(config.Join(p, "value"), "keep either var or value", "say has both var and value")
	case s.Var != "":
		c.checkVarRef(config.Join(p, "var"), s.Var, sets, lookup)
	default:
		if _, err := sayFragments(say.English, s.As, s.Value, time.UTC); err != nil {
			c.r.Errorf(config.Join(p, "value"), sayValueFix(s.As), "%s", strings.TrimPrefix(err.Error(), "ivr: "))
		}
	}
}

func sayValueFix(as string) string {
	switch as {
	case "number":
		return "write a whole number such as 42"
	case "digits":
		return `write digits such as "5550100"`
	case "money":
		return `write an amount such as "12.50" (dollars) `
	case "date":
		return `write a date such as "2026-11-24"`
	case "time":
		return `write a time such as "15:30"`
	case "datetime":
		return `write "2026-11-24 15:30"`
	}
	return ""
}

func (c *checker) checkVarRef(p, v string, sets map[string]bool, lookup bool) {
	if !varName.MatchString(v) {
		c.r.Errorf(p, "use a lower-case name such as rx_number", "bad variable name %q", v)
		return
	}
	if !sets[v] && !lookup {
		c.r.Warnf(p, "check the spelling, or set it with a collect node's into (fine if a dialer campaign supplies it)",
			"variable %q is never set in this flow", v)
	}
}

func (c *checker) checkBranch(p string, b *config.BranchNode, sets map[string]bool, lookup bool) {
	switch {
	case len(b.Cases) == 0 && b.Lookup == nil:
		c.r.Errorf(p, "add cases: [{language: es, next: <node>}] and default:, or lookup:", "branch has no cases and no lookup")
		return
	case len(b.Cases) > 0 && b.Lookup != nil:
		c.r.Errorf(config.Join(p, "lookup"), "split into two branch nodes", "a branch has either cases or a lookup, not both")
	case b.Default != "" && len(b.Cases) == 0:
		c.r.Errorf(config.Join(p, "default"), "remove default (a lookup branches by found/not_found)", "default is only used with cases")
	}
	for i, cs := range b.Cases {
		cp := config.Join(p, "cases", "["+strconv.Itoa(i)+"]")
		if cs.Language == "" && cs.DID == "" && cs.Trunk == "" && cs.Direction == "" && cs.CallerID == nil && cs.Var == "" {
			c.r.Errorf(cp, "add a condition: language, did, trunk, direction, caller_id or var", "case has no condition")
		}
		if cs.Language != "" {
			c.checkLang(config.Join(cp, "language"), cs.Language, true)
		}
		if cs.Direction != "" && cs.Direction != "inbound" && cs.Direction != "outbound" {
			c.r.Errorf(config.Join(cp, "direction"), "use inbound or outbound", "unknown direction %q", cs.Direction)
		}
		if cs.Var != "" {
			c.checkVarRef(config.Join(cp, "var"), cs.Var, sets, lookup)
		} else if cs.Equals != "" {
			c.r.Errorf(config.Join(cp, "equals"), "add var: <variable>", "equals needs var")
		}
	}
	if l := b.Lookup; l != nil && l.Timeout != 0 && (l.Timeout < 0 || l.Timeout > maxLookupTimeout) {
		c.r.Errorf(config.Join(p, "lookup", "timeout"), "use a duration between 1ms and 30s, e.g. 3s", "look-up timeout %s out of range", l.Timeout)
	}
}

func (c *checker) checkQueue(p string, q *config.QueueNode) {
	switch {
	case q.Name == "":
		c.r.Errorf(config.Join(p, "name"), "write name: <queue>", "queue node has no queue name")
	case c.queues != nil && !c.queues[q.Name]:
		c.r.Errorf(config.Join(p, "name"), "use one of: "+strings.Join(sortedKeys(c.queues), ", "), "unknown queue %q", q.Name)
	}
	if _, err := ParsePriority(q.Priority); err != nil {
		c.r.Errorf(config.Join(p, "priority"), "use normal, high or urgent", "unknown priority %q", q.Priority)
	}
	for i, s := range q.Skills {
		if !nameRE.MatchString(s) {
			c.r.Errorf(config.Join(p, "skills", "["+strconv.Itoa(i)+"]"), "use a skill name such as pharmacist", "bad skill %q", s)
		}
	}
	if q.Reason != "" && !varName.MatchString(q.Reason) {
		c.r.Errorf(config.Join(p, "reason"), "use a short lower-case code such as urgent_symptoms", "bad reason %q", q.Reason)
	}
	c.checkPrompts(config.Join(p, "prompts"), q.Prompts)
}

func (c *checker) checkVoicemail(p string, v *config.VoicemailNode) {
	c.checkPrompts(config.Join(p, "prompts"), vmPrompts(v))
	c.checkPrompts(config.Join(p, "beep"), []string{vmBeep(v)})
	c.checkPrompts(config.Join(p, "saved_prompts"), vmSaved(v))
	c.checkPrompt(p, sorryPrompt, c.langs) // played when the store is missing or fails
	c.checkPrompt(p, noMessagePrompt, c.langs)
	if v.Box != "" && !nameRE.MatchString(v.Box) {
		c.r.Errorf(config.Join(p, "box"), "use a name such as pharmacy", "bad voicemail box %q", v.Box)
	}
	for _, d := range []struct {
		field string
		v     time.Duration
	}{{"max_length", v.MaxLength}, {"min_length", v.MinLength}, {"silence", v.Silence}} {
		if d.v < 0 || d.v > maxVoicemail {
			c.r.Errorf(config.Join(p, d.field), "use a duration between 1s and 10m", "%s %s out of range", d.field, d.v)
		}
	}
	if orDuration(v.MinLength, DefaultVoicemailMin) >= orDuration(v.MaxLength, DefaultVoicemailMax) {
		c.r.Errorf(config.Join(p, "min_length"), "make min_length shorter than max_length", "min_length is not shorter than max_length")
	}
	c.checkTerminator(config.Join(p, "terminator"), orString(v.Terminator, DefaultTerminator))
}

func (c *checker) checkCallback(p string, x *config.CallbackNode) {
	c.checkPrompts(config.Join(p, "confirm_prompts"), cbConfirm(x))
	c.checkPrompts(config.Join(p, "enter_prompts"), cbEnter(x))
	c.checkPrompts(config.Join(p, "invalid_prompts"), cbInvalid(x))
	c.checkPrompts(config.Join(p, "confirmed_prompts"), cbConfirmed(x))
	c.checkTimeout(config.Join(p, "timeout"), x.Timeout)
	c.checkCounter(config.Join(p, "max_attempts"), x.MaxAttempts)
	c.checkDigits(p, x.MinDigits, x.MaxDigits, DefaultCallbackMin, DefaultCallbackMax)
}

func (c *checker) checkSchedule(p, name string) {
	switch {
	case name == "":
		c.r.Errorf(p, "write schedule: <name of an entry under schedules:>", "no schedule given")
	case !c.schedules[name]:
		fix := "add it under schedules: (weekly hours and holidays)"
		if len(c.schedules) > 0 {
			fix = "use one of: " + strings.Join(sortedKeys(c.schedules), ", ") + ", or " + fix
		}
		c.r.Errorf(p, fix, "unknown schedule %q", name)
	}
}

func (c *checker) checkLang(p, lang string, required bool) {
	if lang == "" {
		if required {
			c.r.Errorf(p, "write one of: "+strings.Join(c.langs, ", "), "no language given")
		}
		return
	}
	if !c.langSet[lang] {
		c.r.Errorf(p, "use one of site.languages ("+strings.Join(c.langs, ", ")+") or add it there", "language %q is not in site.languages", lang)
	}
}

func (c *checker) checkTimeout(p string, d time.Duration) {
	if d < 0 || d > maxTimeout {
		c.r.Errorf(p, "use a duration between 1ms and 180s, e.g. 5s", "timeout %s out of range", d)
	}
}

func (c *checker) checkCounter(p string, n int) {
	if n < 0 || n > maxCounter {
		c.r.Errorf(p, fmt.Sprintf("use a number from 1 to %d", maxCounter), "%d out of range", n)
	}
}

func (c *checker) checkTerminator(p, t string) {
	for _, k := range t {
		if !dtmfKey.MatchString(string(k)) {
			c.r.Errorf(p, `use "#" or "*" (or "" for none)`, "terminator %q is not a DTMF key", t)
			return
		}
	}
}

func (c *checker) checkPlayIn(p string, lines []config.LangPrompt) {
	for i, l := range lines {
		lp := config.Join(p, "["+strconv.Itoa(i)+"]")
		c.checkLang(config.Join(lp, "lang"), l.Lang, true)
		if l.Prompt == "" {
			c.r.Errorf(config.Join(lp, "prompt"), "write prompt: <prompt id>", "play_in line has no prompt")
			continue
		}
		if c.langSet[l.Lang] {
			c.checkPrompt(config.Join(lp, "prompt"), l.Prompt, []string{l.Lang})
		}
	}
}

func (c *checker) checkPrompts(p string, ids []string) {
	for i, id := range ids {
		c.checkPrompt(config.Join(p, "["+strconv.Itoa(i)+"]"), id, c.langs)
	}
}

// checkPrompt checks that id exists in each of langs.
func (c *checker) checkPrompt(p, id string, langs []string) {
	if id == "" {
		c.r.Errorf(p, "write a prompt id such as main/welcome", "empty prompt id")
		return
	}
	if c.manifest == nil {
		return
	}
	var missing []string
	for _, l := range langs {
		if !c.manifest.Has(l, id) {
			missing = append(missing, l)
		}
	}
	if len(missing) == 0 {
		return
	}
	inAny := false
	for _, l := range c.manifest.Langs() {
		if c.manifest.Has(l, id) {
			inAny = true
		}
	}
	if !inAny {
		fix := "add it to prompts/manifest.yaml and run careline prompts render"
		if best := closestPrompt(c.manifest, id); best != "" {
			fix = fmt.Sprintf("did you mean %q? (or %s)", best, fix)
		}
		c.r.Errorf(p, fix, "prompt %q is not in the prompt manifest", id)
		return
	}
	for _, l := range missing {
		c.r.Errorf(p, fmt.Sprintf("add a %q text for %s in prompts/manifest.yaml and run careline prompts render", l, id),
			"prompt %q has no %s version", id, l)
	}
}

func closestPrompt(m *prompts.Manifest, id string) string {
	best, bestD := "", 4
	for _, l := range m.Langs() {
		for _, cand := range m.IDs(l) {
			if d := config.EditDistance(id, cand); d < bestD {
				best, bestD = cand, d
			}
		}
	}
	return best
}

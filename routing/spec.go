package routing

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/careline/careline/config"
)

// agentSpec is an agent as configured.
type agentSpec struct {
	info   AgentInfo
	skills map[string]int
	langs  map[string]bool
}

func (a *agentSpec) speaks(lang string) bool { return a.langs[lang] }

// stepSpec is one relaxation step.
type stepSpec struct {
	after   time.Duration
	require map[string]int // non-role requirements from now on; nil = unchanged
	lang    string         // language rule from now on; "" = unchanged
}

type prefSpec struct {
	skill      string
	level      int
	callerLang bool
	bonus      time.Duration
}

// queueSpec is a queue as configured, compiled for matching.
type queueSpec struct {
	name         string
	display      string
	priority     int
	role         map[string]int // role requirements: always apply
	base         map[string]int // non-role requirements before any relaxation
	lang         string         // caller, any, or a language code
	prefs        []prefSpec
	steps        []stepSpec
	ringTimeout  time.Duration
	wrapUp       time.Duration
	maxWait      time.Duration
	serviceLevel time.Duration
	starvation   time.Duration
	overflow     config.OverflowTarget
	callback     *config.QueueCallback
	dispositions map[string]string // DTMF code → name
	dispNames    map[string]bool
}

// rules returns the non-role requirements and the language rule that apply after a
// caller has waited w.
func (q *queueSpec) rules(w time.Duration) (map[string]int, string) {
	req, lang := q.base, q.lang
	for _, st := range q.steps {
		if w < st.after {
			break
		}
		if st.require != nil {
			req = st.require
		}
		if st.lang != "" {
			lang = st.lang
		}
	}
	return req, lang
}

// step returns how many relaxation steps apply after a wait of w.
func (q *queueSpec) step(w time.Duration) int {
	n := 0
	for _, st := range q.steps {
		if w >= st.after {
			n++
		}
	}
	return n
}

func meets(a *agentSpec, req map[string]int) bool {
	for s, lvl := range req {
		if a.skills[s] < lvl {
			return false
		}
	}
	return true
}

// eligible reports whether a may serve a caller speaking callerLang who has waited w.
func (q *queueSpec) eligible(a *agentSpec, callerLang string, w time.Duration) bool {
	if !meets(a, q.role) {
		return false
	}
	req, lang := q.rules(w)
	if !meets(a, req) {
		return false
	}
	switch lang {
	case "any":
		return true
	case "caller":
		return a.speaks(callerLang)
	default:
		return a.speaks(lang)
	}
}

// bonus is the idle-time credit a gets from the queue's soft preferences.
func (q *queueSpec) bonus(a *agentSpec, callerLang string) time.Duration {
	var b time.Duration
	for _, p := range q.prefs {
		switch {
		case p.callerLang && a.speaks(callerLang):
			b += p.bonus
		case p.skill != "" && a.skills[p.skill] >= max(p.level, 1):
			b += p.bonus
		}
	}
	return b
}

// levelSum is the tie-breaker: a's levels on the queue's base requirements.
func (q *queueSpec) levelSum(a *agentSpec) int {
	n := 0
	for s := range q.role {
		n += a.skills[s]
	}
	for s := range q.base {
		n += a.skills[s]
	}
	return n
}

// spec is the compiled configuration.
type spec struct {
	defaultLang string
	agents      map[string]*agentSpec
	agentIDs    []string
	queues      map[string]*queueSpec
	queueNames  []string
	awayReasons map[string]bool
	estimate    config.Estimate
}

func compile(c *config.Config) (*spec, error) {
	if c == nil {
		return nil, fmt.Errorf("routing: no configuration")
	}
	s := &spec{defaultLang: c.DefaultLanguage(), agents: map[string]*agentSpec{}, queues: map[string]*queueSpec{},
		awayReasons: map[string]bool{}, estimate: c.Routing.Estimate}
	if s.estimate.MinSamples == 0 {
		s.estimate = config.Estimate{MinSamples: 10, Window: 30 * time.Minute, MaxRelativeError: 0.25, Cap: 20 * time.Minute}
	}
	for _, r := range c.Routing.AwayReasons {
		s.awayReasons[r] = true
	}
	isRole := func(skill string) bool { sk := c.Skills[skill]; return sk != nil && sk.Role }
	for id, a := range c.Agents {
		if a == nil {
			continue
		}
		as := &agentSpec{info: AgentInfo{ID: id, Name: a.Name, SIPUser: a.SIP.User}, skills: map[string]int{}, langs: map[string]bool{}}
		for k, v := range a.Skills {
			as.skills[k] = v
		}
		for _, l := range a.Languages {
			as.langs[l] = true
		}
		if len(as.langs) == 0 {
			as.langs[s.defaultLang] = true
		}
		s.agents[id] = as
		s.agentIDs = append(s.agentIDs, id)
	}
	sort.Strings(s.agentIDs)
	for name, q := range c.Queues {
		if q == nil {
			continue
		}
		qs := &queueSpec{name: name, display: q.Name, priority: q.PriorityValue(), role: map[string]int{}, base: map[string]int{},
			lang: q.Language, ringTimeout: q.RingTimeout, wrapUp: q.WrapUp, maxWait: q.MaxWait, serviceLevel: q.ServiceLevel,
			starvation: q.StarvationWait, overflow: q.Overflow, callback: q.Callback, dispositions: q.Dispositions,
			dispNames: map[string]bool{}}
		if qs.display == "" {
			qs.display = name
		}
		if qs.lang == "" {
			qs.lang = "caller"
		}
		for k, v := range q.Require {
			if isRole(k) {
				qs.role[k] = v
			} else {
				qs.base[k] = v
			}
		}
		for _, p := range q.Prefer {
			qs.prefs = append(qs.prefs, prefSpec{skill: p.Skill, level: p.Level, callerLang: p.Language == "caller", bonus: p.Bonus})
		}
		for _, st := range q.Relax {
			ss := stepSpec{after: st.After, lang: st.Language}
			if st.Require != nil {
				ss.require = map[string]int{}
				for k, v := range st.Require {
					if !isRole(k) { // role requirements are never relaxed (config refuses them too)
						ss.require[k] = v
					}
				}
			}
			qs.steps = append(qs.steps, ss)
		}
		slices.SortFunc(qs.steps, func(a, b stepSpec) int { return int(a.after - b.after) })
		for _, v := range qs.dispositions {
			qs.dispNames[v] = true
		}
		if qs.ringTimeout <= 0 || qs.maxWait <= 0 || qs.starvation <= 0 {
			return nil, fmt.Errorf("routing: queue %s: ring_timeout, max_wait and starvation_wait must be set (load the config with config.Load)", name)
		}
		s.queues[name] = qs
		s.queueNames = append(s.queueNames, name)
	}
	sort.Strings(s.queueNames)
	return s, nil
}

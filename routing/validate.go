package routing

import (
	"fmt"
	"strings"

	"github.com/careline/careline/config"
)

// Validate reports routing problems that config's own checks cannot see because
// they depend on who is staffed: a queue no configured agent can ever serve, or a
// language no agent of a queue speaks. They are warnings: callers would wait until
// overflow, which may be intended while staff is being added.
func Validate(c *config.Config) config.Issues {
	sp, err := compile(c)
	if err != nil {
		return config.Issues{{Path: "queues", Severity: config.Error, Msg: err.Error()}}
	}
	var r config.Reporter
	for _, name := range sp.queueNames {
		q := sp.queues[name]
		req, lang := q.rules(q.maxWait) // the widest rules a caller ever meets
		var able []*agentSpec
		for _, id := range sp.agentIDs {
			if a := sp.agents[id]; meets(a, q.role) && meets(a, req) {
				able = append(able, a)
			}
		}
		path := config.Join("queues", name)
		if len(able) == 0 {
			r.Warnf(config.Join(path, "require"), "give an agent the skills, or relax the non-role requirements",
				"no configured agent can ever serve queue %s (callers will overflow)", name)
			continue
		}
		var langs []string
		switch lang {
		case "any":
		case "caller":
			langs = c.Site.Languages
		default:
			langs = []string{lang}
		}
		var missing []string
		for _, l := range langs {
			ok := false
			for _, a := range able {
				ok = ok || a.speaks(l)
			}
			if !ok {
				missing = append(missing, l)
			}
		}
		if len(missing) > 0 {
			r.Warnf(config.Join(path, "language"), "add an agent speaking it, or a relaxation step with language: any",
				"no agent of queue %s speaks %s", name, strings.Join(missing, ", "))
		}
	}
	return c.Locate(r.Issues())
}

// String describes a queue for logs.
func (q *queueSpec) String() string {
	return fmt.Sprintf("queue %s (role %v, require %v, language %s, %d relaxation steps)", q.name, q.role, q.base, q.lang, len(q.steps))
}

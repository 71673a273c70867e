package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/careline/careline/config"
)

// Site is what a report needs from the configuration: the site's name and time zone,
// and the queues, agents and campaigns it lists (shown even on a day without data).
type Site struct {
	Name      string
	Location  *time.Location
	Languages []string // site languages, the default first; the order of per-language rows
	Queues    []Queue  // in report order
	Agents    []Agent  // in report order
	Campaigns []string // in report order
	// DefaultServiceLevel applies to queues found in the data but not configured.
	DefaultServiceLevel time.Duration
}

// Queue is a configured queue.
type Queue struct {
	ID           string // the queue's key in the configuration (as logged)
	Name         string // display name
	ServiceLevel time.Duration
}

// Agent is a configured agent (staff: the name is not PHI).
type Agent struct {
	ID, Name string
}

// SiteFromConfig extracts a report's Site from a loaded configuration.
func SiteFromConfig(cfg *config.Config) (Site, error) {
	if cfg == nil {
		return Site{}, errors.New("report: no configuration")
	}
	loc, err := time.LoadLocation(cfg.Site.Timezone)
	if err != nil {
		return Site{}, fmt.Errorf("report: site.timezone: %w", err)
	}
	s := Site{Name: cfg.Site.Name, Location: loc, Languages: slices.Clone(cfg.Site.Languages),
		DefaultServiceLevel: cfg.Routing.ServiceLevel}
	for id, q := range cfg.Queues {
		if q == nil {
			continue
		}
		sl := q.ServiceLevel
		if sl == 0 {
			sl = cfg.Routing.ServiceLevel
		}
		s.Queues = append(s.Queues, Queue{ID: id, Name: q.Name, ServiceLevel: sl})
	}
	slices.SortFunc(s.Queues, func(a, b Queue) int { return strings.Compare(a.ID, b.ID) })
	for id, a := range cfg.Agents {
		name := ""
		if a != nil {
			name = a.Name
		}
		s.Agents = append(s.Agents, Agent{ID: id, Name: name})
	}
	slices.SortFunc(s.Agents, func(a, b Agent) int { return strings.Compare(a.ID, b.ID) })
	for name := range cfg.Campaigns {
		s.Campaigns = append(s.Campaigns, name)
	}
	slices.Sort(s.Campaigns)
	return s, nil
}

func (s *Site) queue(id string) (Queue, bool) {
	for _, q := range s.Queues {
		if q.ID == id {
			return q, true
		}
	}
	return Queue{ID: id, ServiceLevel: s.DefaultServiceLevel}, false
}

func (s *Site) agentName(id string) string {
	for _, a := range s.Agents {
		if a.ID == id {
			return a.Name
		}
	}
	return ""
}

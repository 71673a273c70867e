package ivr

import "github.com/careline/careline/store"

// NodeExit is the gist of one ivr.node_exit event.
type NodeExit struct {
	Flow, Node, Kind, Exit string
}

// String formats the exit as "node=exit".
func (e NodeExit) String() string { return e.Node + "=" + e.Exit }

// NodeExits extracts the node exits, in order, from events (other types are
// skipped). It works on events read back from the store too (Detail from JSON).
func NodeExits(evs []store.Event) []NodeExit {
	var out []NodeExit
	for _, ev := range evs {
		if ev.Type != EventNodeExit {
			continue
		}
		s := func(k string) string { v, _ := ev.Detail[k].(string); return v }
		out = append(out, NodeExit{Flow: s("flow"), Node: s("node"), Kind: s("kind"), Exit: s("exit")})
	}
	return out
}

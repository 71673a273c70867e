package ivr

import (
	"slices"
	"strconv"

	"github.com/careline/careline/config"
)

// edge is a reference from one node to another, with the YAML path of the field.
type edge struct {
	path     string
	target   string
	required bool
}

// terminalKinds end a flow.
var terminalKinds = map[string]bool{
	"hangup": true, "queue": true, "transfer": true, "voicemail": true, "callback_request": true,
}

// nextKinds go on to the node's next.
var nextKinds = map[string]bool{"play": true, "say": true, "set_language": true, "collect": true}

// nodeEdges lists the references a node makes; base is the node's YAML path.
func nodeEdges(base string, n *config.Node) []edge {
	var es []edge
	add := func(path, target string, required bool) {
		es = append(es, edge{path: path, target: target, required: required})
	}
	kind := n.Kind()
	if nextKinds[kind] {
		add(config.Join(base, "next"), n.Next, true)
	}
	switch kind {
	case "menu":
		p, m := config.Join(base, "menu"), n.Menu
		for _, k := range sortedKeys(m.Options) {
			if o := m.Options[k]; o != nil && !o.Repeat {
				add(config.Join(p, "options", k, "next"), o.Next, true)
			}
		}
		if m.Match != nil {
			add(config.Join(p, "match", "next"), m.Match.Next, true)
		}
		add(config.Join(p, "on_timeout"), m.OnTimeout, false)
		add(config.Join(p, "on_failure"), m.OnFailure, true)
	case "collect":
		add(config.Join(base, "collect", "on_failure"), n.Collect.OnFailure, true)
	case "branch_hours":
		p, b := config.Join(base, "branch_hours"), n.BranchHours
		add(config.Join(p, "open"), b.Open, true)
		add(config.Join(p, "closed"), b.Closed, true)
		add(config.Join(p, "holiday"), b.Holiday, false)
		add(config.Join(p, "closure"), b.Closure, false)
	case "branch":
		p, b := config.Join(base, "branch"), n.Branch
		for i, c := range b.Cases {
			add(config.Join(p, "cases", "["+strconv.Itoa(i)+"]", "next"), c.Next, true)
		}
		if len(b.Cases) > 0 {
			add(config.Join(p, "default"), b.Default, true)
		}
		if l := b.Lookup; l != nil {
			lp := config.Join(p, "lookup")
			add(config.Join(lp, "found"), l.Found, true)
			add(config.Join(lp, "not_found"), l.NotFound, true)
			add(config.Join(lp, "on_timeout"), l.OnTimeout, false)
			add(config.Join(lp, "on_error"), l.OnError, false)
		}
	case "transfer":
		add(config.Join(base, "transfer", "on_failure"), n.Transfer.OnFailure, false)
	case "voicemail":
		add(config.Join(base, "voicemail", "on_failure"), n.Voicemail.OnFailure, false)
	case "callback_request":
		add(config.Join(base, "callback_request", "on_failure"), n.CallbackRequest.OnFailure, false)
	}
	return es
}

// graph is a flow's node graph, for reachability and loop checks.
type graph struct {
	names []string            // sorted node names
	succ  map[string][]string // existing targets only
	kind  map[string]string
}

func newGraph(f *config.Flow) *graph {
	g := &graph{names: sortedKeys(f.Nodes), succ: map[string][]string{}, kind: map[string]string{}}
	for _, name := range g.names {
		n := f.Nodes[name]
		if n == nil {
			continue
		}
		g.kind[name] = n.Kind()
		for _, e := range nodeEdges("", n) {
			if t := f.Nodes[e.target]; t != nil && !slices.Contains(g.succ[name], e.target) {
				g.succ[name] = append(g.succ[name], e.target)
			}
		}
	}
	return g
}

// reachable returns the nodes reachable from start.
func (g *graph) reachable(start string) map[string]bool {
	seen := map[string]bool{}
	if _, ok := g.kind[start]; !ok {
		return seen
	}
	stack := []string{start}
	seen[start] = true
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, m := range g.succ[n] {
			if !seen[m] {
				seen[m] = true
				stack = append(stack, m)
			}
		}
	}
	return seen
}

// canEnd returns the nodes from which a terminal node can be reached. A node with
// a broken reference counts as able to end (the broken reference is reported on
// its own), as does a node whose kind is unknown.
func (g *graph) canEnd(f *config.Flow) map[string]bool {
	pred := map[string][]string{}
	ok := map[string]bool{}
	var queue []string
	for _, name := range g.names {
		for _, m := range g.succ[name] {
			pred[m] = append(pred[m], name)
		}
		n := f.Nodes[name]
		broken := n == nil || g.kind[name] == ""
		if n != nil && !broken {
			for _, e := range nodeEdges("", n) {
				if e.target != "" && f.Nodes[e.target] == nil {
					broken = true
				}
			}
		}
		if terminalKinds[g.kind[name]] || broken {
			ok[name] = true
			queue = append(queue, name)
		}
	}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, p := range pred[n] {
			if !ok[p] {
				ok[p] = true
				queue = append(queue, p)
			}
		}
	}
	return ok
}

// sccs returns the strongly connected components (Tarjan) of the subgraph induced
// by keep, each sorted, in order of their first node.
func (g *graph) sccs(keep map[string]bool) [][]string {
	index, low := map[string]int{}, map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	var out [][]string
	next := 0
	var visit func(v string)
	visit = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range g.succ[v] {
			if !keep[w] {
				continue
			}
			if _, seen := index[w]; !seen {
				visit(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			slices.Sort(comp)
			out = append(out, comp)
		}
	}
	for _, v := range g.names {
		if keep[v] {
			if _, seen := index[v]; !seen {
				visit(v)
			}
		}
	}
	slices.SortFunc(out, func(a, b []string) int {
		if a[0] < b[0] {
			return -1
		}
		if a[0] > b[0] {
			return 1
		}
		return 0
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

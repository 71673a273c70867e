// Package routing assigns waiting callers to agents by skill, language and priority, and tracks agent state.
package routing

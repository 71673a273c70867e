//go:build race

package dialer

// simDays is shorter under the race detector, which slows the single-goroutine
// simulator tenfold without finding anything more in it.
const simDays = 3

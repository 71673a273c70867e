//go:build !race

package dialer

// simDays is the simulated length of the pacing comparison (see race_on_test.go).
const simDays = 10

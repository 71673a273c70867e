//go:build !unix

package media

import "net"

// drainUDP is a no-op where non-blocking reads are not wired up; closing the socket
// discards what it buffered anyway.
func drainUDP(*net.UDPConn) int { return 0 }

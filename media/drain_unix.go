//go:build unix

package media

import (
	"net"
	"syscall"
)

// drainUDP reads, without blocking, whatever datagrams wait in c's receive buffer and
// returns how many there were.
func drainUDP(c *net.UDPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	var buf [1500]byte
	_ = rc.Read(func(fd uintptr) bool {
		for n < 100000 {
			if _, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_DONTWAIT); err != nil {
				break
			}
			n++
		}
		return true // never wait for readiness
	})
	return n
}

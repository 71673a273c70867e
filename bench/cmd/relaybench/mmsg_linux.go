//go:build linux && (amd64 || arm64)

package main

import (
	"errors"
	"net"
	"net/netip"
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is struct mmsghdr of <sys/socket.h> on 64-bit Linux.
type mmsghdr struct {
	hdr syscall.Msghdr
	n   uint32
	_   [4]byte
}

// batch is a reusable sendmmsg/recvmmsg vector. Its iovecs and names point into memory
// the batch owns, so one batch serves one goroutine at a time.
type batch struct {
	msgs  []mmsghdr
	iovs  []syscall.Iovec
	names []syscall.RawSockaddrInet4
	bufs  [][]byte
}

func newBatch(n, bufSize int) *batch {
	b := &batch{
		msgs:  make([]mmsghdr, n),
		iovs:  make([]syscall.Iovec, n),
		names: make([]syscall.RawSockaddrInet4, n),
		bufs:  make([][]byte, n),
	}
	for i := range n {
		if bufSize > 0 {
			b.bufs[i] = make([]byte, bufSize)
		}
	}
	return b
}

// setSend makes message i send p to dst.
func (b *batch) setSend(i int, p []byte, dst netip.AddrPort) {
	n := &b.names[i]
	n.Family = syscall.AF_INET
	a := dst.Addr().As4()
	n.Addr = a
	port := dst.Port()
	pb := (*[2]byte)(unsafe.Pointer(&n.Port))
	pb[0], pb[1] = byte(port>>8), byte(port)
	b.iovs[i] = syscall.Iovec{Base: &p[0]}
	b.iovs[i].SetLen(len(p))
	m := &b.msgs[i].hdr
	*m = syscall.Msghdr{Name: (*byte)(unsafe.Pointer(n)), Namelen: syscall.SizeofSockaddrInet4, Iov: &b.iovs[i], Iovlen: 1}
}

// prepareRecv points every message at its own buffer, without source names.
func (b *batch) prepareRecv() {
	for i := range b.msgs {
		b.iovs[i] = syscall.Iovec{Base: &b.bufs[i][0]}
		b.iovs[i].SetLen(len(b.bufs[i]))
		b.msgs[i].hdr = syscall.Msghdr{Iov: &b.iovs[i], Iovlen: 1}
	}
}

// sendBatch sends messages [0, n) of b on c with sendmmsg, waiting for buffer space as
// needed. It returns how many were sent.
func sendBatch(c *net.UDPConn, b *batch, n int) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	sent := 0
	var serr error
	werr := rc.Write(func(fd uintptr) bool {
		for sent < n {
			r, _, e := syscall.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[sent])), uintptr(n-sent), syscall.MSG_DONTWAIT, 0, 0)
			if e == syscall.EAGAIN {
				return false
			}
			if e != 0 {
				serr = e
				return true
			}
			sent += int(r)
		}
		return true
	})
	runtime.KeepAlive(b)
	return sent, errors.Join(werr, serr)
}

// recvLoop reads c with recvmmsg until c is closed, calling count with the number and
// total bytes of the datagrams of each batch.
func recvLoop(c *net.UDPConn, b *batch, count func(pkts, bytes int)) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	b.prepareRecv()
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			for i := range b.msgs {
				b.msgs[i].n = 0
			}
			r, _, e := syscall.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&b.msgs[0])), uintptr(len(b.msgs)), syscall.MSG_DONTWAIT, 0, 0)
			if e == syscall.EAGAIN {
				return false
			}
			if e != 0 {
				rerr = e
				return true
			}
			total := 0
			for i := range int(r) {
				total += int(b.msgs[i].n)
			}
			count(int(r), total)
		}
	})
	runtime.KeepAlive(b)
	return errors.Join(err, rerr)
}

// setRcvBuf enlarges c's receive buffer past net.core.rmem_max when allowed (root).
func setRcvBuf(c *net.UDPConn, size int) {
	rc, err := c.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) {
		if syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, size) != nil {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}
	})
}

package sip

import (
	"net"
	"time"
)

// deadlineListener gives every accepted TCP connection an idle read timeout
// and a write timeout. sipgo's own TransportTCP.ReadTimeout/WriteTimeout
// (default 0 = none) would need a custom TransportsConfig, whose transports
// then log through sipgo's global logger; wrapping the listener keeps the
// per-object redacting logger and still bounds idle and stuck connections.
type deadlineListener struct {
	net.Listener
	read, write time.Duration
}

func (l *deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &deadlineConn{Conn: c, read: l.read, write: l.write}, nil
}

type deadlineConn struct {
	net.Conn
	read, write time.Duration
}

func (c *deadlineConn) Read(b []byte) (int, error) {
	if c.read > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.read)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(b)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	if c.write > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(c.write)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(b)
}

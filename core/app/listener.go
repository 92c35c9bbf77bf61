package app

import (
	"net"
	"sync"
	"sync/atomic"

	"golang.org/x/net/netutil"
)

// cappedListener accepts at most max connections at once (more wait in
// the kernel's queue until one closes: netutil.LimitListener, from the Go
// project's own x/net) and keeps the count and its peak, so the cap can
// be watched.
type cappedListener struct {
	net.Listener
	open, peak atomic.Int64
}

func capListener(ln net.Listener, max int) *cappedListener {
	return &cappedListener{Listener: netutil.LimitListener(ln, max)}
}

func (l *cappedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := l.open.Add(1)
	for {
		p := l.peak.Load()
		if n <= p || l.peak.CompareAndSwap(p, n) {
			break
		}
	}
	return &countedConn{Conn: c, l: l}, nil
}

type countedConn struct {
	net.Conn
	l    *cappedListener
	once sync.Once
}

// Close counts the connection closed before closing it: closing releases
// the LimitListener's slot, and a connection accepted into that slot
// before this one was counted out made the peak read one over the cap.
func (c *countedConn) Close() error {
	c.once.Do(func() { c.l.open.Add(-1) })
	return c.Conn.Close() // releases the LimitListener's slot
}

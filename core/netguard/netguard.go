// Package netguard refuses outbound connections to addresses a webhook must
// not reach: loopback, private, link-local, CGNAT, multicast, broadcast,
// unspecified, reserved, documentation and benchmarking ranges, and cloud
// metadata services, in IPv4 and IPv6, unless an operator allows them.
//
// # Where it applies
//
// The guard runs at dial time through [net.Dialer.Control], after DNS
// resolution, on the exact IP being connected to. A hostname that resolves
// to a public address on one lookup and to 127.0.0.1 on the next (DNS
// rebinding) is therefore refused on the connection that matters.
//
// Callers must dial through [Guard.Dialer] and must not route requests
// through a proxy (leave http.Transport.Proxy nil): with a proxy the guard
// would only see the proxy's address.
//
// # Normalisation
//
// IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) are judged as the IPv4
// address. NAT64 (64:ff9b::/96), 6to4 (2002::/16) and Teredo (2001::/32)
// addresses are judged by the IPv4 addresses they embed. Zones are ignored.
//
// # Allowing ranges
//
// Addresses inside a prefix given to [New] (config key
// delivery.allowed_networks, parsed with [ParseAllowed]) are always
// allowed, as are NAT64, 6to4 and Teredo addresses whose embedded IPv4
// address is inside one. Tests and demos allow 127.0.0.0/8 and ::1/128.
//
// # Example
//
//	allowed, err := netguard.ParseAllowed(cfg.AllowedNetworks)
//	if err != nil {
//		return err
//	}
//	guard := netguard.New(allowed)
//	client := &http.Client{Transport: &http.Transport{
//		DialContext: guard.Dialer(net.Dialer{Timeout: 5 * time.Second}).DialContext,
//	}}
//
// A refused request fails with an error that wraps a [*BlockedError]; find
// it with errors.As.
package netguard

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// Guard decides whether an outbound address may be dialled. It is immutable
// after New and safe for concurrent use.
type Guard struct {
	allowed []netip.Prefix
}

// New returns a Guard that blocks the default ranges except those inside
// allowed. Prefixes are normalised (masked, IPv4-mapped forms unmapped); the
// caller's slice is not retained. New(nil) allows nothing extra.
func New(allowed []netip.Prefix) *Guard {
	g := &Guard{allowed: make([]netip.Prefix, 0, len(allowed))}
	for _, p := range allowed {
		if p.IsValid() {
			g.allowed = append(g.allowed, normalisePrefix(p))
		}
	}
	return g
}

// BlockedError reports an address the guard refused. Dial errors from
// net/http wrap it; find it with errors.As.
type BlockedError struct {
	// Addr is the address that was dialled (IPv4-mapped forms unmapped).
	Addr netip.Addr
	// Category says why it is blocked, one of the Category constants,
	// such as "loopback", "private", "link-local" or "metadata".
	Category string
	// Embedded is the IPv4 address a NAT64, 6to4 or Teredo address carries
	// when that embedded address is the reason for the block; else zero.
	Embedded netip.Addr
	// Via names the mechanism that carries Embedded ("NAT64", "6to4",
	// "Teredo server", "Teredo client"); empty when Embedded is zero.
	Via string
}

// Error names the address, its category and the config key that allows it.
func (e *BlockedError) Error() string {
	const hint = "blocked by the outbound address guard; allow it with delivery.allowed_networks"
	if e.Category == CategoryInvalid {
		return "invalid address is " + hint
	}
	if e.Embedded.IsValid() {
		return fmt.Sprintf("address %s carries %s (%s), which is %s, and is %s",
			e.Addr, e.Embedded, e.Via, e.Category, hint)
	}
	return fmt.Sprintf("address %s is %s and %s", e.Addr, e.Category, hint)
}

// Check returns nil when ip may be dialled, else a *BlockedError.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Addr: ip, Category: CategoryInvalid}
	}
	ip = ip.WithZone("").Unmap()
	if g.isAllowed(ip) {
		return nil
	}
	if emb := embeddedV4(ip); emb != nil {
		for _, e := range emb {
			if g.isAllowed(e.addr) {
				continue
			}
			if cat := category(e.addr); cat != "" {
				return &BlockedError{Addr: ip, Category: cat, Embedded: e.addr, Via: e.via}
			}
		}
		return nil
	}
	if cat := category(ip); cat != "" {
		return &BlockedError{Addr: ip, Category: cat}
	}
	return nil
}

func (g *Guard) isAllowed(ip netip.Addr) bool {
	for _, p := range g.allowed {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Control has the signature of net.Dialer.Control. It checks the literal
// IP in address (the resolved address being dialled) and returns a
// *BlockedError for a blocked one, which aborts the connection before any
// packet is sent. An address that is not ip:port is refused.
func (g *Guard) Control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound address guard: cannot parse dial address %q for %s: %w", address, network, err)
	}
	return g.Check(ap.Addr())
}

// Dialer returns a copy of base whose Control (or ControlContext, when base
// sets one, since net.Dialer then ignores Control) runs the guard first and
// then the base function, if any.
func (g *Guard) Dialer(base net.Dialer) *net.Dialer {
	d := base
	if prev := base.ControlContext; prev != nil {
		d.ControlContext = func(ctx context.Context, network, address string, c syscall.RawConn) error {
			if err := g.Control(network, address, c); err != nil {
				return err
			}
			return prev(ctx, network, address, c)
		}
		return &d
	}
	prev := base.Control
	d.Control = func(network, address string, c syscall.RawConn) error {
		if err := g.Control(network, address, c); err != nil {
			return err
		}
		if prev != nil {
			return prev(network, address, c)
		}
		return nil
	}
	return &d
}

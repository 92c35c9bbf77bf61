package data

import (
	"github.com/hookd/hookd/core/delivery"
)

// DeliveryQuery selects deliveries for the console's lists: the engine's
// delivery.Filter (state, endpoint, tenant, type, event, times) plus
// terms its ReplayMatching does not take (several endpoints, HTTP status,
// error class, error text).
type DeliveryQuery struct {
	delivery.Filter
	// EndpointIDs, when not nil, matches any of these endpoints (a name
	// resolved with FindEndpoints); empty and not nil matches nothing.
	// It replaces Filter.EndpointID.
	EndpointIDs []string
	// StatusMin and StatusMax bound the last HTTP status (0: no bound).
	StatusMin, StatusMax int
	// Reason is the last error class (connect, timeout, http_status...).
	Reason string
	// Text is matched in the last error, case-insensitive.
	Text string
	// Before continues below this id (the previous page's Next).
	Before int64
	// Limit defaults to 100, at most 1000.
	Limit int
}

// Empty reports whether q can match nothing (a name that matched no
// endpoint), so no query is needed.
func (q DeliveryQuery) Empty() bool { return q.EndpointIDs != nil && len(q.EndpointIDs) == 0 }

// endpoints returns the endpoints q names (nil: any).
func (q DeliveryQuery) endpoints() []string {
	if q.EndpointIDs != nil {
		return q.EndpointIDs
	}
	if q.EndpointID != "" {
		return []string{q.EndpointID}
	}
	return nil
}

// engineFilter returns q as a delivery.Filter and whether the engine's
// delivery.ReplayMatching takes q as it is (one endpoint at most, no term
// of the console's own).
func (q DeliveryQuery) engineFilter() (delivery.Filter, bool) {
	f := q.Filter
	if q.EndpointIDs != nil {
		if len(q.EndpointIDs) != 1 {
			return f, false
		}
		f.EndpointID = q.EndpointIDs[0]
	}
	return f, q.StatusMin == 0 && q.StatusMax == 0 && q.Reason == "" && q.Text == ""
}

// DeliveryPage is one page of deliveries; Next is 0 at the end.
type DeliveryPage struct {
	Deliveries []delivery.Delivery
	Next       int64
	// Labels names the page's endpoints.
	Labels map[string]Label
	// Scanned is set when the search stopped after ScanLimit deliveries
	// (terms no index range answers): the page may hold fewer rows than
	// asked, and Next goes on.
	Scanned bool
}

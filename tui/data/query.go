package data

import (
	"github.com/hookd/hookd/core/delivery"
)

// DeliveryQuery selects deliveries for the console's lists: the engine's
// delivery.Filter plus terms its List and ReplayMatching do not take yet
// (several endpoints, retrying, HTTP status, error class, error text).
// Queries that need none of them go through delivery.List unchanged.
type DeliveryQuery struct {
	delivery.Filter
	// EndpointIDs, when not nil, matches any of these endpoints (a name
	// resolved with FindEndpoints); empty and not nil matches nothing.
	// It replaces Filter.EndpointID.
	EndpointIDs []string
	// Retrying matches deliveries waiting out a backoff (state retrying).
	Retrying bool
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

// engineFilter returns q as a delivery.Filter and whether the engine's
// own functions (delivery.List, delivery.ReplayMatching) take q as it is.
func (q DeliveryQuery) engineFilter() (delivery.Filter, bool) {
	f := q.Filter
	if q.EndpointIDs != nil {
		if len(q.EndpointIDs) != 1 {
			return f, false
		}
		f.EndpointID = q.EndpointIDs[0]
	}
	return f, !q.Retrying && q.StatusMin == 0 && q.StatusMax == 0 && q.Reason == "" && q.Text == ""
}

// DeliveryPage is one page of deliveries; Next is 0 at the end.
type DeliveryPage struct {
	Deliveries []delivery.Delivery
	Next       int64
	// Labels names the page's endpoints.
	Labels map[string]Label
	// Scanned is set when the page was searched (terms the engine's List
	// does not take) and the search stopped after ScanLimit deliveries:
	// the page may hold fewer rows than asked, and Next goes on.
	Scanned bool
}

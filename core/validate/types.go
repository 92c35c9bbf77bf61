package validate

import "regexp"

var typeFilterPattern = regexp.MustCompile(`^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+)*(\.\*)?$`)

// TypeFilter reports whether t is an event type filter: an exact type
// (invoice.paid), a prefix (payment.*) or * for all. One rule for
// endpoints' subscriptions, the feed's type= and the deliveries filters.
func TypeFilter(t string) bool { return t == "*" || typeFilterPattern.MatchString(t) }

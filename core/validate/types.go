package validate

import (
	"regexp"
	"strings"
)

var eventTypePattern = regexp.MustCompile(`^[A-Za-z0-9_:\-]+(\.[A-Za-z0-9_:\-]+)*$`)

// MaxEventTypeBytes bounds an event type, and an entry of a type filter.
const MaxEventTypeBytes = 255

// EventType reports whether t has the form of an event type: at most
// MaxEventTypeBytes of words of A-Z a-z 0-9 _ : - separated by dots, such
// as invoice.paid.
func EventType(t string) bool { return len(t) <= MaxEventTypeBytes && eventTypePattern.MatchString(t) }

// TypeFilter reports whether t is an event type filter: an exact type
// (invoice.paid), a prefix (payment.*) or * for all. One rule for
// endpoints' subscriptions, the feed's type= and the deliveries filters.
func TypeFilter(t string) bool { return t == "*" || EventType(strings.TrimSuffix(t, ".*")) }

package list

import "slices"

// A live list read newest first by a numeric id re-reads its window on
// every refresh. With the cursor on the top row it follows the newest
// rows; anywhere else the rows below the cursor, and the cursor's own,
// must stay while rows arrive above it: the refresh reads a page more
// than the window (RefreshLimit) and keeps of it what arrived and the
// window (Refreshed); should more have arrived than it read, the list
// stops rather than show the cursor on another row.

// RefreshLimit is how many rows a refresh of a window of loaded rows
// reads: the window, at least a page, and a page more away from the top
// (away); at most most.
func RefreshLimit(loaded, page, most int, away bool) int {
	n := max(loaded, page)
	if away {
		n = loaded + page
	}
	return min(n, most)
}

// Refreshed is what a list away from its top row keeps of a refresh that
// asked for limit rows and came back with page (newest first) and next:
// the rows that arrived and the window, with next to go on below them.
// What the refresh read below the window is dropped, or the window would
// grow by a page on every refresh, rows arriving or not. slid reports
// that more rows arrived above the selected one than the refresh read
// (the page is full and all of it newer): the caller keeps its window
// then, and stops refreshing.
func Refreshed[T any](window, page []T, next int64, id func(T) int64, selected int64, limit int) (rows []T, below int64, slid bool) {
	if len(page) > 0 && len(page) >= limit && !slices.ContainsFunc(page, func(r T) bool { return id(r) <= selected }) {
		return window, next, true
	}
	if len(window) == 0 {
		return page, next, false
	}
	oldest := id(window[len(window)-1])
	if k := slices.IndexFunc(page, func(r T) bool { return id(r) < oldest }); k >= 0 {
		return page[:k], oldest, false
	}
	return page, next, false
}

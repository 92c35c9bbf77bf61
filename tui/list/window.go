package list

import "slices"

// A live list read newest first by a numeric id re-reads its window on
// every refresh. With the cursor on the top row it follows the newest
// rows; anywhere else the rows below the cursor, and the cursor's own,
// must stay while rows arrive above it: the refresh reads a page more
// than the window (RefreshLimit), keeps of it what arrived and the window
// (KeepArrived), and should more have arrived than it read, the list
// stops rather than show the cursor on another row (SlidPast).

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

// KeepArrived returns of a refresh's rows (newest first) those down to
// the oldest of the window before, and whether it dropped any: what was
// read below the window is not kept, or the window would grow by a page
// on every refresh, rows arriving or not. oldest is 0 for an empty window.
func KeepArrived[T any](rows []T, id func(T) int64, oldest int64) ([]T, bool) {
	if oldest == 0 {
		return rows, false
	}
	if k := slices.IndexFunc(rows, func(r T) bool { return id(r) < oldest }); k >= 0 {
		return rows[:k], true
	}
	return rows, false
}

// SlidPast reports whether a refresh that asked for limit rows came back
// without the selected row because more rows arrived above it than it
// read: the page is full and all of it newer than selected.
func SlidPast[T any](rows []T, id func(T) int64, selected int64, limit int) bool {
	if len(rows) == 0 || len(rows) < limit {
		return false
	}
	return !slices.ContainsFunc(rows, func(r T) bool { return id(r) <= selected })
}

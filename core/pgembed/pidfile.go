package pgembed

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// pidFile is what postmaster.pid says about a running server. Its lines
// are: pid, data directory, start time, port, socket directory, listen
// address, shared memory key, status.
type pidFile struct {
	pid    int
	dir    string
	port   int
	status string
}

func readPidFile(pgdata string) (pidFile, error) {
	b, err := os.ReadFile(filepath.Join(pgdata, "postmaster.pid"))
	if err != nil {
		return pidFile{}, err
	}
	lines := strings.Split(string(b), "\n")
	var pf pidFile
	if pf.pid, err = strconv.Atoi(strings.TrimSpace(lines[0])); err != nil {
		return pidFile{}, errors.New("postmaster.pid: first line is not a pid")
	}
	if len(lines) > 1 {
		pf.dir = strings.TrimSpace(lines[1])
	}
	if len(lines) > 3 {
		pf.port, _ = strconv.Atoi(strings.TrimSpace(lines[3]))
	}
	if len(lines) > 7 {
		pf.status = strings.TrimSpace(lines[7])
	}
	return pf, nil
}

// alive reports whether pid names a running process. A zombie (exited,
// not yet reaped by its parent) counts as gone.
func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true // no procfs: trust kill
	}
	// The state follows the parenthesised command name, which may itself
	// contain spaces or parentheses.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		return stat[i+2] != 'Z'
	}
	return true
}

// processKind tells what a live pid from postmaster.pid is.
type processKind int

const (
	notPostgres     processKind = iota // the pid was reused by something else
	otherPostmaster                    // a postgres, but not provably on this data directory
	ourPostmaster                      // postgres -D <this data directory>
)

// classify inspects /proc/<pid>/cmdline. Without procfs every live pid is
// taken for another postmaster, so nothing is removed or signalled on a
// guess.
func classify(pid int, pgdata string) processKind {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(b) == 0 {
		return otherPostmaster
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	base := filepath.Base(args[0])
	if base != "postgres" && base != "postmaster" {
		return notPostgres
	}
	for i, a := range args {
		if (a == "-D" && i+1 < len(args) && args[i+1] == pgdata) || a == "-D"+pgdata {
			return ourPostmaster
		}
	}
	return otherPostmaster
}

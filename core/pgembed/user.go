package pgembed

import (
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
)

// runAs is the account initdb and postgres run under. cred is nil when
// they run as the current user.
type runAs struct {
	name   string
	uid    int
	gid    int
	groups []int
	cred   *syscall.Credential
}

// lookupFunc resolves a user name; tests replace user.Lookup.
type lookupFunc func(name string) (*user.User, error)

// chooseUser picks the account for the server. PostgreSQL refuses to run
// as root, so root hands it to the `postgres` system user when there is
// one, else to `nobody`; anyone else runs it as themselves.
func chooseUser(euid int, lookup lookupFunc) (runAs, error) {
	if euid != 0 {
		u, err := user.Current()
		name := strconv.Itoa(euid)
		if err == nil {
			name = u.Username
		}
		return runAs{name: name, uid: euid, gid: os.Getegid()}, nil
	}
	var lastErr error
	for _, name := range []string{"postgres", "nobody"} {
		u, err := lookup(name)
		if err != nil {
			lastErr = err
			continue
		}
		r, err := fromUser(u)
		if err != nil {
			return runAs{}, err
		}
		return r, nil
	}
	return runAs{}, fmt.Errorf("running as root, but PostgreSQL refuses root and neither user postgres nor nobody exists (%v): "+
		"create a postgres system user or run hookd as an unprivileged user", lastErr)
}

func fromUser(u *user.User) (runAs, error) {
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return runAs{}, fmt.Errorf("user %s: uid %q is not numeric", u.Username, u.Uid)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return runAs{}, fmt.Errorf("user %s: gid %q is not numeric", u.Username, u.Gid)
	}
	r := runAs{name: u.Username, uid: uid, gid: gid}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil {
		for _, s := range ids {
			if g, err := strconv.Atoi(s); err == nil {
				r.groups = append(r.groups, g)
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	r.cred = cred
	return r, nil
}

// checkReachable makes sure the server's account can walk down to dir:
// every ancestor must be searchable by it. Returns an error naming the
// first directory that is not.
func (r runAs) checkReachable(dir string) error {
	if r.cred == nil {
		return nil
	}
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if !r.canSearch(fi) {
			return fmt.Errorf("PostgreSQL runs as user %s (it refuses root) but cannot reach %s because %s is not searchable by that user: "+
				"choose a data directory whose parents are world-searchable (such as /var/lib/hookd), or run `chmod o+x %s`",
				r.name, dir, d, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (r runAs) canSearch(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	mode := fi.Mode().Perm()
	switch {
	case int(st.Uid) == r.uid:
		return mode&0o100 != 0
	case r.inGroup(int(st.Gid)):
		return mode&0o010 != 0
	default:
		return mode&0o001 != 0
	}
}

func (r runAs) inGroup(gid int) bool {
	if gid == r.gid {
		return true
	}
	for _, g := range r.groups {
		if g == gid {
			return true
		}
	}
	return false
}

// chownTree hands path and everything under it to the server's account,
// unless it already owns the top (the common case on every later start).
func (r runAs) chownTree(path string) error {
	if r.cred == nil {
		return nil
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == r.uid && int(st.Gid) == r.gid {
		return nil
	}
	return filepath.WalkDir(path, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, r.uid, r.gid)
	})
}

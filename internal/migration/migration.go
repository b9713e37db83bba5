// Package migration reads a store's schema migrations: numbered SQL files,
// NNNN_name.sql, applied in order of their number. Each store embeds its own
// files and applies and records them in its own SQL under its own lock; what
// a file's name means, the order, and which numbers are acceptable are the
// same for every store, so they are decided here once.
//
// It is not in credit: migrations are how a store keeps its schema, and the
// domain stays free of SQL.
package migration

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// File is one migration: 0001_ledger.sql is version 1. A migration, once
// released, is never edited: changes are new files.
type File struct {
	Version int
	Name    string // the file's name, e.g. 0001_ledger.sql
	SQL     string
}

// Load reads every *.sql file in dir of fsys (other files are ignored) and
// returns them in order of version. It refuses a name that does not start
// with a version number and '_', two files of one version, and a gap in the
// numbers (the versions must be 1, 2, 3, …): a store records each version it
// applies, and a missing or doubled number would leave two builds
// disagreeing about what a recorded version means.
func Load(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	var out []File
	for _, name := range names {
		base := path.Base(name)
		digits, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 || strings.TrimLeft(digits, "0123456789") != "" {
			return nil, fmt.Errorf("migration %s: the name must start with a version number and '_'", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Version: v, Name: base, SQL: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no migrations in %s", dir)
	}
	slices.SortFunc(out, func(a, b File) int { return a.Version - b.Version })
	for i, f := range out {
		switch {
		case i > 0 && f.Version == out[i-1].Version:
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].Name, f.Name)
		case f.Version != i+1:
			return nil, fmt.Errorf("migration %s: version %d is missing", f.Name, i+1)
		}
	}
	return out, nil
}

// Pending returns the files of all (as Load returns them) whose version is
// not in applied, in order. It refuses a schema that has a version newer
// than the newest file: the database was written by a newer build, which
// this one must not run against.
func Pending(all []File, applied []int) ([]File, error) {
	latest := all[len(all)-1].Version
	done := map[int]bool{}
	current := 0
	for _, v := range applied {
		done[v] = true
		current = max(current, v)
	}
	if current > latest {
		return nil, fmt.Errorf("the database schema is at version %d, newer than this build's %d: use a newer tally", current, latest)
	}
	var out []File
	for _, f := range all {
		if !done[f.Version] {
			out = append(out, f)
		}
	}
	return out, nil
}

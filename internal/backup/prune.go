package backup

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Policy says which backups prune keeps; all others are removed. The rules
// work like restic's forget: Last keeps the N newest sets; Daily keeps the
// newest set of each of the N most recent days that have a set, Weekly of
// each ISO week, Monthly of each month. A set kept by any rule is kept.
// Whatever the rules, the newest set whose latest verification passed is
// always kept.
type Policy struct {
	Last, Daily, Weekly, Monthly int
	// Location is the time zone days, weeks and months are counted in;
	// nil means the local time zone.
	Location *time.Location
}

// Empty reports whether the policy has no rule, which would remove every
// backup; [PlanPrune] refuses it.
func (p Policy) Empty() bool { return p.Last <= 0 && p.Daily <= 0 && p.Weekly <= 0 && p.Monthly <= 0 }

// Decision is what prune does with one set.
type Decision struct {
	Set     *Set
	Keep    bool
	Reasons []string // why it is kept: "last", "daily", "newest verified"...
}

// Plan is prune's decision for every set, newest first.
type Plan []Decision

// Removals returns the sets the plan removes.
func (p Plan) Removals() []*Set {
	var out []*Set
	for _, d := range p {
		if !d.Keep {
			out = append(out, d.Set)
		}
	}
	return out
}

// PlanPrune decides, for sets listed newest first (as [Repository.List]
// returns them), which to keep under p.
func PlanPrune(sets []*Set, p Policy) (Plan, error) {
	if p.Empty() {
		return nil, errors.New("no keep rule: give at least one of keep-last, keep-daily, keep-weekly or keep-monthly; prune never removes every backup")
	}
	loc := p.Location
	if loc == nil {
		loc = time.Local
	}
	type rule struct {
		name  string
		n     int
		key   func(time.Time) string
		last  string
		count int
	}
	rules := []*rule{
		{name: "last", n: p.Last, key: func(time.Time) string { return "" }},
		{name: "daily", n: p.Daily, key: func(t time.Time) string { return t.Format("2006-01-02") }},
		{name: "weekly", n: p.Weekly, key: func(t time.Time) string {
			y, w := t.ISOWeek()
			return strconv.Itoa(y) + "-W" + strconv.Itoa(w)
		}},
		{name: "monthly", n: p.Monthly, key: func(t time.Time) string { return t.Format("2006-01") }},
	}
	plan := make(Plan, 0, len(sets))
	newestGood := false
	for i, s := range sets {
		d := Decision{Set: s}
		t := s.Time().In(loc)
		for _, r := range rules {
			if r.count >= r.n {
				continue
			}
			k := r.key(t)
			if r.name == "last" {
				k = strconv.Itoa(i) // every set is its own bucket
			}
			if r.count == 0 || k != r.last {
				r.last = k
				r.count++
				d.Keep = true
				d.Reasons = append(d.Reasons, r.name)
			}
		}
		if s.Good() && !newestGood {
			newestGood = true
			if !d.Keep {
				d.Keep = true
			}
			d.Reasons = append(d.Reasons, "newest verified")
		}
		plan = append(plan, d)
	}
	return plan, nil
}

// PruneResult is what [Repository.Prune] did.
type PruneResult struct {
	Removed []string
	// Skipped lists sets the plan removed that are no longer there, or
	// that had become the newest verified set.
	Skipped           []string
	RemovedIncomplete []string
	StaleLock         *LockInfo
}

// Prune removes the sets plan removes, holding the repository lock. It
// re-reads the repository first, and skips a set that has disappeared or
// has become the newest verified one since the plan was made. Each set is
// moved out of sets/ before it is deleted, so a prune that is interrupted
// never leaves half a set listed. It also deletes what interrupted backups
// left behind.
func (r *Repository) Prune(ctx context.Context, plan Plan, now time.Time) (*PruneResult, error) {
	lock, err := r.Lock("prune", now)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res := &PruneResult{StaleLock: lock.Stale}
	if res.RemovedIncomplete, err = r.removeIncomplete(); err != nil {
		return res, err
	}
	current, err := r.List()
	if err != nil {
		return res, err
	}
	present := map[string]bool{}
	newestGood := ""
	for _, s := range current {
		present[s.ID] = true
		if newestGood == "" && s.Good() {
			newestGood = s.ID
		}
	}
	for _, s := range plan.Removals() {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if !present[s.ID] || s.ID == newestGood {
			res.Skipped = append(res.Skipped, s.ID)
			continue
		}
		doomed := filepath.Join(r.dir, tmpDir, s.ID+".removing")
		if err := os.Rename(r.setPath(s.ID), doomed); err != nil {
			return res, fmt.Errorf("remove backup %s: %w", s.ID, err)
		}
		if err := os.RemoveAll(doomed); err != nil {
			return res, fmt.Errorf("remove backup %s: %w", s.ID, err)
		}
		res.Removed = append(res.Removed, s.ID)
	}
	if err := syncDir(filepath.Join(r.dir, setsDir)); err != nil {
		return res, err
	}
	return res, nil
}

package backup

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// fakeSets makes sets (newest first) at the given times; good[i] marks
// the ones whose verification passed.
func fakeSets(times []time.Time, good map[int]bool) []*Set {
	var out []*Set
	for i, ts := range times {
		s := &Set{ID: fmt.Sprintf("%s-%08x", ts.Format("20060102-150405"), i), Manifest: &Manifest{Time: ts}}
		s.Verified = &VerifyStatus{OK: good[i] || good == nil}
		out = append(out, s)
	}
	return out
}

func kept(p Plan) []int {
	var idx []int
	for i, d := range p {
		if d.Keep {
			idx = append(idx, i)
		}
	}
	return idx
}

func TestPlanPrune(t *testing.T) {
	t.Parallel()
	// Two backups a day at 02:00 and 14:00 UTC, for 70 days back from
	// 2026-03-31, newest first.
	var times []time.Time
	for d := range 70 {
		day := time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, -d)
		times = append(times, day.Add(14*time.Hour), day.Add(2*time.Hour))
	}
	utc := time.UTC
	tests := []struct {
		name   string
		policy Policy
		good   map[int]bool
		want   []int
	}{
		{"keep last 3", Policy{Last: 3, Location: utc}, nil, []int{0, 1, 2}},
		{"keep daily 3", Policy{Daily: 3, Location: utc}, nil, []int{0, 2, 4}},
		// 2026-03-31 is a Tuesday: weeks start on the Mondays 03-30, 03-23.
		{"keep weekly 2", Policy{Weekly: 2, Location: utc}, nil, []int{0, 4}},
		{"keep monthly 3", Policy{Monthly: 3, Location: utc}, nil, []int{0, 62, 118}},
		{"runbook: 7 daily", Policy{Daily: 7, Location: utc}, nil, []int{0, 2, 4, 6, 8, 10, 12}},
		{"rules combine", Policy{Last: 1, Daily: 2, Monthly: 2, Location: utc}, nil, []int{0, 2, 62}},
		{"newest verified is kept", Policy{Last: 2, Location: utc}, map[int]bool{5: true, 9: true}, []int{0, 1, 5}},
		{"nothing verified", Policy{Last: 1, Location: utc}, map[int]bool{}, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			plan, err := PlanPrune(fakeSets(times, tt.good), tt.policy)
			if err != nil {
				t.Fatal(err)
			}
			if got := kept(plan); !slices.Equal(got, tt.want) {
				t.Errorf("kept %v, want %v", got, tt.want)
			}
		})
	}
	if _, err := PlanPrune(fakeSets(times, nil), Policy{}); err == nil || !strings.Contains(err.Error(), "never removes every backup") {
		t.Errorf("empty policy: %v", err)
	}
	// Days are counted in the policy's time zone: 23:30 and 00:30 UTC are
	// the same day in UTC-5.
	two := []time.Time{time.Date(2026, 3, 31, 0, 30, 0, 0, time.UTC), time.Date(2026, 3, 30, 23, 30, 0, 0, time.UTC)}
	ny := time.FixedZone("UTC-5", -5*3600)
	plan, _ := PlanPrune(fakeSets(two, nil), Policy{Daily: 2, Location: ny})
	if got := kept(plan); !slices.Equal(got, []int{0}) {
		t.Errorf("daily in UTC-5: kept %v, want [0]", got)
	}
	if reasons := plan[0].Reasons; !slices.Equal(reasons, []string{"daily", "newest verified"}) {
		t.Errorf("reasons = %v", reasons)
	}
}

func TestPrune(t *testing.T) {
	t.Parallel()
	r := newRepo(t)
	src := t.TempDir()
	var ids []string
	for i := range 4 {
		res, err := r.Create(context.Background(), CreateOptions{
			Sources: []Source{&DirSource{Name: "data", Path: src}},
			Now:     clock(fixedNow.Add(time.Duration(i) * 24 * time.Hour)),
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.Set.ID)
	}
	// Break the newest: prune must then keep the newest good one too.
	sets, _ := r.List()
	flipByte(t, sets[0].Path+"/"+sets[0].Manifest.Parts[0].File, 10)
	if rep, _ := r.Verify(t.Context(), sets[0], VerifyOptions{}); rep.OK() {
		t.Fatal("damage not found")
	}
	sets, _ = r.List()
	plan, err := PlanPrune(sets, Policy{Last: 1, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	if got := kept(plan); !slices.Equal(got, []int{0, 1}) {
		t.Fatalf("kept %v, want the newest and the newest good", got)
	}
	res, err := r.Prune(t.Context(), plan, fixedNow)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Removed, []string{ids[1], ids[0]}) {
		t.Errorf("removed %v, want %v", res.Removed, []string{ids[1], ids[0]})
	}
	left, _ := r.List()
	if len(left) != 2 || left[0].ID != ids[3] || left[1].ID != ids[2] {
		t.Errorf("left %d sets", len(left))
	}
	if inc, _ := r.Incomplete(); len(inc) != 0 {
		t.Errorf("prune left %v in tmp/", inc)
	}
	// A second run of the same plan skips what is gone.
	res, err = r.Prune(t.Context(), plan, fixedNow)
	if err != nil || len(res.Removed) != 0 || len(res.Skipped) != 2 {
		t.Errorf("second prune: %+v, %v", res, err)
	}
	// A stale plan never removes the newest verified set.
	stale := Plan{{Set: left[1]}}
	if err := os.RemoveAll(left[0].Path); err != nil {
		t.Fatal(err)
	}
	res, err = r.Prune(t.Context(), stale, fixedNow)
	if err != nil || len(res.Removed) != 0 || !slices.Equal(res.Skipped, []string{left[1].ID}) {
		t.Errorf("prune of the newest verified: %+v, %v", res, err)
	}
}

package hypersync

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tars-ops/tarsctl/pkg/client"
)

func ptr[T any](v T) *T { return &v }

func TestJournalReplay(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "journal.jsonl")
	rec := func(id, status string) string {
		b, _ := encodeRecord(client.Sync{ID: id, AgentID: "a", Status: status, Hyperparameters: client.HyperparameterUpdate{Discount: ptr(0.5)}})
		return string(b)
	}
	content := rec("s1", "pending") + rec("s2", "pending") + "garbage line\n" + rec("s1", "applied") + `{"format":"tars-hypersync-journal","v":1,"sync":{"id":"s3"`
	os.WriteFile(path, []byte(content), 0o600)
	j, syncs, skipped, err := openJournal(path)
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	ids := []string{}
	for _, s := range syncs {
		ids = append(ids, s.ID+"="+s.Status)
	}
	if !slices.Equal(ids, []string{"s1=applied", "s2=pending"}) {
		t.Errorf("replayed %v", ids)
	}
	if len(skipped) != 2 || !strings.Contains(skipped[0], "line 3") || !strings.Contains(skipped[1], "interrupted") {
		t.Errorf("skipped %q", skipped)
	}
	// Compacted: one record per sync, nothing torn.
	b, _ := os.ReadFile(path)
	if string(b) != rec("s1", "applied")+rec("s2", "pending") {
		t.Errorf("compacted journal:\n%s", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("journal mode %v", fi.Mode())
	}
	if err := j.put(client.Sync{ID: "s4", Status: "pending"}); err != nil {
		t.Fatal(err)
	}
	j.close()
	_, syncs, _, _ = openJournal(path)
	if len(syncs) != 3 || syncs[2].ID != "s4" {
		t.Errorf("after append: %+v", syncs)
	}
}

package hypersync

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tars-ops/tarsctl/pkg/client"
)

// FuzzJournal replays arbitrary journal files: no panic, and what a replay
// keeps replays to the same after its compaction.
func FuzzJournal(f *testing.F) {
	rec, _ := encodeRecord(client.Sync{ID: "s1", AgentID: "a", Status: client.SyncPending})
	f.Add(rec)
	f.Add(append(append([]byte{}, rec...), rec[:20]...))
	f.Add([]byte("\n\n{}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "j.jsonl")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		j, first, _, err := openJournal(path)
		if err != nil {
			return
		}
		j.close()
		j, again, skipped, err := openJournal(path)
		if err != nil {
			t.Fatalf("reopen after compaction: %v", err)
		}
		j.close()
		if len(skipped) != 0 || !reflect.DeepEqual(first, again) {
			t.Fatalf("compaction changed the journal: %v then %v (skipped %v)", first, again, skipped)
		}
	})
}

// Package progress is how long-running domain code (backups, rotations,
// bundles, load tests) reports what it is doing without knowing who listens.
// The CLI implements [Reporter] with text and JSON printers in internal/ui;
// tests and daemons use [Discard] or their own.
package progress

// Event is one progress report. Phase names the step ("dump postgres",
// "re-encrypt"); Done and Total count units of Unit ("bytes", "files", "");
// Total is 0 when unknown. Message is a human sentence and may be empty.
type Event struct {
	Phase   string `json:"phase"`
	Message string `json:"message,omitempty"`
	Done    int64  `json:"done,omitempty"`
	Total   int64  `json:"total,omitempty"`
	Unit    string `json:"unit,omitempty"`
}

// Reporter receives progress events.
//
// Report may be called from several goroutines at once and must not block
// for long: implementations throttle rendering themselves. Done is called
// once when the work ends; it returns after the final report is written.
type Reporter interface {
	Report(Event)
	Done()
}

// Discard is a Reporter that drops every event.
var Discard Reporter = discard{}

type discard struct{}

func (discard) Report(Event) {}
func (discard) Done()        {}

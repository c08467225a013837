package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// LogOptions configure [NewLogger].
type LogOptions struct {
	Service string
	Version string
	Format  string // "text" or "json"
	Level   string // DEBUG, INFO, WARNING, ERROR (case-insensitive)
}

// NewLogger returns a logger that writes the runbook's log format to w.
func NewLogger(w io.Writer, opts LogOptions) *slog.Logger {
	host, _ := os.Hostname()
	h := &logHandler{
		mu:      &sync.Mutex{},
		w:       w,
		json:    strings.EqualFold(opts.Format, "json"),
		level:   ParseLevel(opts.Level),
		service: opts.Service,
		base:    []slog.Attr{slog.Int("pid", os.Getpid()), slog.String("hostname", host), slog.String("version", opts.Version)},
	}
	return slog.New(h)
}

// ParseLevel maps the runbook's level names to slog levels; unknown names
// mean INFO.
func ParseLevel(s string) slog.Level {
	switch strings.ToUpper(s) {
	case "DEBUG":
		return slog.LevelDebug
	case "WARNING", "WARN":
		return slog.LevelWarn
	case "ERROR":
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func levelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "DEBUG"
	case l < slog.LevelWarn:
		return "INFO"
	case l < slog.LevelError:
		return "WARNING"
	default:
		return "ERROR"
	}
}

// logHandler is a slog.Handler for the runbook's formats. Groups are
// flattened into dotted keys; that is all the daemons need.
type logHandler struct {
	mu      *sync.Mutex
	w       io.Writer
	json    bool
	level   slog.Level
	service string
	base    []slog.Attr // pid, hostname, version: JSON context only
	attrs   []slog.Attr // from With
	group   string
}

func (h *logHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *logHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr(nil), h.attrs...), h.prefixed(as)...)
	return &c
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.group = h.group + name + "."
	return &c
}

func (h *logHandler) prefixed(as []slog.Attr) []slog.Attr {
	if h.group == "" {
		return as
	}
	out := make([]slog.Attr, len(as))
	for i, a := range as {
		out[i] = slog.Attr{Key: h.group + a.Key, Value: a.Value}
	}
	return out
}

func (h *logHandler) Handle(_ context.Context, r slog.Record) error {
	attrs := append([]slog.Attr(nil), h.attrs...)
	r.Attrs(func(a slog.Attr) bool {
		attrs = append(attrs, h.prefixed([]slog.Attr{a})...)
		return true
	})
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	var line []byte
	if h.json {
		ctx := make(map[string]any, len(h.base)+len(attrs))
		for _, a := range append(append([]slog.Attr(nil), h.base...), attrs...) {
			ctx[a.Key] = jsonValue(a.Value)
		}
		b, err := json.Marshal(struct {
			Timestamp string         `json:"timestamp"`
			Level     string         `json:"level"`
			Service   string         `json:"service"`
			Message   string         `json:"message"`
			Context   map[string]any `json:"context"`
		}{ts.UTC().Format(time.RFC3339Nano), levelName(r.Level), h.service, r.Message, ctx})
		if err != nil {
			return err
		}
		line = append(b, '\n')
	} else {
		var b strings.Builder
		b.WriteString(ts.Format("2006-01-02 15:04:05"))
		b.WriteByte(' ')
		b.WriteString(levelName(r.Level))
		b.WriteString(" [")
		b.WriteString(h.service)
		b.WriteString("] ")
		b.WriteString(r.Message)
		for _, a := range attrs {
			b.WriteByte(' ')
			b.WriteString(a.Key)
			b.WriteByte('=')
			b.WriteString(textValue(a.Value))
		}
		b.WriteByte('\n')
		line = []byte(b.String())
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	_, err := h.w.Write(line)
	return err
}

func jsonValue(v slog.Value) any {
	v = v.Resolve()
	switch v.Kind() {
	case slog.KindDuration:
		return v.Duration().String()
	case slog.KindTime:
		return v.Time().UTC().Format(time.RFC3339Nano)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			return err.Error()
		}
		return v.Any()
	default:
		return v.Any()
	}
}

func textValue(v slog.Value) string {
	s := fmt.Sprint(jsonValue(v))
	if s == "" || strings.ContainsAny(s, " \t\"=") {
		return fmt.Sprintf("%q", s)
	}
	return s
}

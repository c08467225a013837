package iostreams

import "testing"

func TestDetectColor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		tty  bool
		env  map[string]string
		want ColorDepth
	}{
		{"no tty", false, map[string]string{"TERM": "xterm-256color"}, ColorNone},
		{"tty basic", true, map[string]string{"TERM": "xterm"}, Color16},
		{"tty 256", true, map[string]string{"TERM": "xterm-256color"}, Color256},
		{"tty truecolor", true, map[string]string{"TERM": "xterm", "COLORTERM": "truecolor"}, ColorTrue},
		{"NO_COLOR wins over tty", true, map[string]string{"TERM": "xterm", "NO_COLOR": "1"}, ColorNone},
		{"NO_COLOR wins over force", false, map[string]string{"CLICOLOR_FORCE": "1", "NO_COLOR": "1"}, ColorNone},
		{"CLICOLOR_FORCE without tty", false, map[string]string{"CLICOLOR_FORCE": "1"}, Color16},
		{"CLICOLOR_FORCE=0 is not forcing", false, map[string]string{"CLICOLOR_FORCE": "0"}, ColorNone},
		{"dumb terminal", true, map[string]string{"TERM": "dumb"}, ColorNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := detectColor(tt.tty, func(k string) string { return tt.env[k] })
			if got != tt.want {
				t.Errorf("detectColor = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCanPrompt(t *testing.T) {
	t.Parallel()
	ios, _, _, _ := Test()
	if ios.CanPrompt() {
		t.Fatal("test streams must not prompt")
	}
	ios.SetStdinTTY(true)
	ios.SetStdoutTTY(true)
	if ios.CanPrompt() {
		t.Fatal("with stderr not a terminal the question would not be seen")
	}
	ios.SetStdoutTTY(false)
	ios.SetStderrTTY(true)
	if !ios.CanPrompt() {
		t.Fatal("stdin and stderr on a terminal should prompt, whatever stdout is")
	}
	ios.SetNeverPrompt(true)
	if ios.CanPrompt() {
		t.Fatal("SetNeverPrompt(true) must stop prompts")
	}
}

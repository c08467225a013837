package serviceapi

import (
	"net/http"

	"github.com/tars-ops/tarsctl/internal/daemon"
	"github.com/tars-ops/tarsctl/pkg/client"
)

// WriteError writes the daemons' error answer: code, and a
// [client.ErrorBody] whose error is the code's status text and whose
// message is msg. msg is shown to the caller: it never holds a secret.
func WriteError(w http.ResponseWriter, code int, msg string) {
	daemon.WriteJSON(w, code, client.ErrorBody{Error: http.StatusText(code), Message: msg})
}

// NotFound answers 404 for a path no route matched, naming the method and
// path; daemons mount it on "/".
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
}

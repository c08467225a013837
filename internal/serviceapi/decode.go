package serviceapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"unicode/utf8"
)

// MaxBodyBytes is the largest request body a daemon reads: every endpoint
// takes a small JSON object. A larger one is refused with 413.
const MaxBodyBytes = 64 << 10

// bodyError is why a request body was refused: the status code and the
// message of the error answer.
type bodyError struct {
	status int
	msg    string
}

func (e *bodyError) Error() string { return e.msg }

func badBody(format string, args ...any) *bodyError {
	return &bodyError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// DecodeJSON decodes the request's body, one JSON object, into v (a
// pointer to a struct or map) under the rules of the package
// documentation's "Request bodies" section. When the body breaks one it
// writes the error answer itself (415, 413 or 400 with a
// [client.ErrorBody]) and returns false; the handler then returns.
//
// [client.ErrorBody]: github.com/tars-ops/tarsctl/pkg/client.ErrorBody
func DecodeJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return writeBodyError(w, decodeRequest(w, r, v, false))
}

// DecodeOptionalJSON is [DecodeJSON] for an endpoint whose body may be
// left out: a request with no body at all (Content-Length 0 or none) is
// accepted and leaves v as it is; any other body must follow every rule.
func DecodeOptionalJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	return writeBodyError(w, decodeRequest(w, r, v, true))
}

func writeBodyError(w http.ResponseWriter, err *bodyError) bool {
	if err != nil {
		WriteError(w, err.status, err.msg)
		return false
	}
	return true
}

func decodeRequest(w http.ResponseWriter, r *http.Request, v any, optional bool) *bodyError {
	if optional && r.ContentLength == 0 {
		return nil
	}
	// The header first: a body of another type is not read at all.
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	if r.ContentLength > MaxBodyBytes {
		return tooLarge()
	}
	// MaxBytesReader, not LimitReader: it also makes the server close a
	// connection whose body was cut short, instead of reading the rest.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge()
		}
		return badBody("request body could not be read: %v", err)
	}
	return decodeBody(body, v)
}

func tooLarge() *bodyError {
	return &bodyError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("request body is larger than %d bytes", MaxBodyBytes)}
}

// checkContentType accepts application/json, with any parameters but a
// charset other than UTF-8.
func checkContentType(h string) *bodyError {
	const want = "Content-Type must be application/json"
	if h == "" {
		return &bodyError{status: http.StatusUnsupportedMediaType, msg: want + ": the request has none"}
	}
	mt, params, err := mime.ParseMediaType(h)
	if err != nil || mt != "application/json" {
		if len(h) > 64 {
			h = h[:64] + "..."
		}
		return &bodyError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("%s, not %q", want, h)}
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return &bodyError{status: http.StatusUnsupportedMediaType, msg: fmt.Sprintf("%s with charset utf-8, not %q", want, cs)}
	}
	return nil
}

// jsonSpace is the whitespace JSON allows between tokens.
const jsonSpace = " \t\r\n"

// decodeBody checks a whole body and decodes it into v.
func decodeBody(body []byte, v any) *bodyError {
	doc := bytes.TrimLeft(body, jsonSpace)
	switch {
	case len(doc) == 0:
		return badBody("request body is empty: send a JSON object")
	case bytes.IndexByte(body, 0) >= 0:
		return badBody("request body holds a NUL byte")
	case !utf8.Valid(body):
		// Checked here because encoding/json would not refuse it: it
		// replaces invalid bytes in strings with U+FFFD.
		return badBody("request body is not valid UTF-8")
	case doc[0] != '{':
		return badBody("request body must be a JSON object")
	case hasEscapedNUL(doc):
		return badBody(`request body holds a NUL character (\u0000)`)
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badBody("%s", jsonErrorMessage(err))
	}
	if rest := bytes.TrimLeft(doc[dec.InputOffset():], jsonSpace); len(rest) > 0 {
		return badBody("request body has data after the JSON object")
	}
	return nil
}

// hasEscapedNUL reports whether a JSON string in doc holds the escape
// \u0000, which decodes to a NUL character. It only looks inside strings,
// so that an escaped backslash followed by "u0000" is not one.
func hasEscapedNUL(doc []byte) bool {
	if !bytes.Contains(doc, []byte(`\u0000`)) {
		return false
	}
	in := false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case !in:
			in = c == '"'
		case c == '"':
			in = false
		case c == '\\':
			if i+5 < len(doc) && string(doc[i+1:i+6]) == "u0000" {
				return true
			}
			i++ // the escaped character cannot end the string
		}
	}
	return false
}

// jsonErrorMessage words a decoding error for the caller, without Go's
// type names.
func jsonErrorMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("request body is not valid JSON: %v (at byte %d)", syn, syn.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "request body is not valid JSON: it ends inside the object"
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Sprintf("request body must be %s, not %s", kindName(typ.Type), typ.Value)
		}
		return fmt.Sprintf("request body: %s must be %s, not %s", typ.Field, kindName(typ.Type), typ.Value)
	}
	// Unknown fields ("json: unknown field \"x\"") and the rest.
	return "request body: " + strings.TrimPrefix(err.Error(), "json: ")
}

// kindName says what JSON a Go type takes.
func kindName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "another type"
}

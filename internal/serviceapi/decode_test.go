package serviceapi

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tars-ops/tarsctl/pkg/client"
)

// sample is a request body type like the daemons' own.
type sample struct {
	Name     string            `json:"name"`
	Episodes int               `json:"episodes"`
	Rate     *float64          `json:"rate,omitempty"`
	Labels   map[string]string `json:"labels,omitempty"`
	Inner    *struct {
		On bool `json:"on"`
	} `json:"inner,omitempty"`
}

// decodeCase runs DecodeJSON (or DecodeOptionalJSON) on one request and
// returns the answer's code (0 when it decoded) and error body.
func decodeCase(t testing.TB, optional bool, contentType string, body io.Reader, contentLength int64) (int, client.ErrorBody, sample) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "/x", body)
	r.ContentLength = contentLength
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	var v sample
	decode := DecodeJSON
	if optional {
		decode = DecodeOptionalJSON
	}
	ok := decode(w, r, &v)
	if ok {
		if w.Body.Len() != 0 {
			t.Fatalf("decoded, but an answer was written: %d %s", w.Code, w.Body)
		}
		return 0, client.ErrorBody{}, v
	}
	var eb client.ErrorBody
	dec := json.NewDecoder(w.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error answer %d is not an ErrorBody: %v", w.Code, err)
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("error answer's Content-Type %q", ct)
	}
	if eb.Error != http.StatusText(w.Code) || eb.Message == "" {
		t.Errorf("error body %+v for %d", eb, w.Code)
	}
	return w.Code, eb, v
}

func TestDecodeJSON(t *testing.T) {
	t.Parallel()
	big := `{"name":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	for _, tc := range []struct {
		name, ct, body string
		chunked        bool // no Content-Length
		code           int
		msg            string // the whole message, when given
	}{
		{name: "valid", ct: "application/json", body: `{"name":"a","episodes":3,"rate":0.5,"labels":{"k":"v"},"inner":{"on":true}}`},
		{name: "charset utf-8", ct: "application/json; charset=UTF-8", body: `{"name":"a"}`},
		{name: "other parameters", ct: "application/json; foo=bar", body: `{}`},
		{name: "surrounding whitespace", ct: "application/json", body: " \r\n\t{\"name\":\"a\"} \n"},
		{name: "escaped backslash before u0000", ct: "application/json", body: `{"name":"a\\u0000"}`},
		{name: "non-ASCII", ct: "application/json", body: `{"name":"héllo ✓"}`},

		{name: "no content type", body: `{}`, code: 415, msg: "Content-Type must be application/json: the request has none"},
		{name: "text/plain", ct: "text/plain", body: `{}`, code: 415, msg: `Content-Type must be application/json, not "text/plain"`},
		{name: "form", ct: "application/x-www-form-urlencoded", body: `a=b`, code: 415},
		{name: "json suffix type", ct: "application/jsonx", body: `{}`, code: 415},
		{name: "unparsable content type", ct: "application/json;;", body: `{}`, code: 415},
		{name: "latin1", ct: "application/json; charset=latin1", body: `{}`, code: 415, msg: `Content-Type must be application/json with charset utf-8, not "latin1"`},

		{name: "too large", ct: "application/json", body: big, code: 413, msg: "request body is larger than 65536 bytes"},
		{name: "too large, chunked", ct: "application/json", body: big, chunked: true, code: 413},
		{name: "just fits", ct: "application/json", body: `{"name":"` + strings.Repeat("x", MaxBodyBytes-12) + `"}`},

		{name: "empty", ct: "application/json", body: "", code: 400, msg: "request body is empty: send a JSON object"},
		{name: "whitespace only", ct: "application/json", body: " \n", code: 400, msg: "request body is empty: send a JSON object"},
		{name: "unknown field", ct: "application/json", body: `{"name":"a","bogus":1}`, code: 400, msg: `request body: unknown field "bogus"`},
		{name: "unknown nested field", ct: "application/json", body: `{"inner":{"off":true}}`, code: 400, msg: `request body: unknown field "off"`},
		{name: "two documents", ct: "application/json", body: `{} {}`, code: 400, msg: "request body has data after the JSON object"},
		{name: "trailing garbage", ct: "application/json", body: `{"name":"a"}x`, code: 400, msg: "request body has data after the JSON object"},
		{name: "raw NUL", ct: "application/json", body: "{\"name\":\"a\x00\"}", code: 400, msg: "request body holds a NUL byte"},
		{name: "NUL after the document", ct: "application/json", body: "{}\x00", code: 400, msg: "request body holds a NUL byte"},
		{name: "escaped NUL", ct: "application/json", body: `{"name":"a\u0000b"}`, code: 400, msg: `request body holds a NUL character (\u0000)`},
		{name: "escaped NUL in a key", ct: "application/json", body: `{"labels":{"\u0000":"v"}}`, code: 400},
		{name: "invalid UTF-8", ct: "application/json", body: "{\"name\":\"\xff\xfe\"}", code: 400, msg: "request body is not valid UTF-8"},
		{name: "array", ct: "application/json", body: `[1]`, code: 400, msg: "request body must be a JSON object"},
		{name: "string", ct: "application/json", body: `"x"`, code: 400, msg: "request body must be a JSON object"},
		{name: "null", ct: "application/json", body: `null`, code: 400, msg: "request body must be a JSON object"},
		{name: "wrong type", ct: "application/json", body: `{"episodes":"3"}`, code: 400, msg: "request body: episodes must be a whole number, not string"},
		{name: "fraction for an integer", ct: "application/json", body: `{"episodes":1.5}`, code: 400},
		{name: "wrong nested type", ct: "application/json", body: `{"inner":{"on":1}}`, code: 400, msg: "request body: inner.on must be true or false, not number"},
		{name: "syntax error", ct: "application/json", body: `{"name":}`, code: 400, msg: "request body is not valid JSON: invalid character '}' looking for beginning of value (at byte 9)"},
		{name: "truncated", ct: "application/json", body: `{"name":"a"`, code: 400, msg: "request body is not valid JSON: it ends inside the object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n := int64(len(tc.body))
			if tc.chunked {
				n = -1
			}
			code, eb, _ := decodeCase(t, false, tc.ct, strings.NewReader(tc.body), n)
			if code != tc.code || (tc.msg != "" && eb.Message != tc.msg) {
				t.Errorf("got %d %q, want %d %q", code, eb.Message, tc.code, tc.msg)
			}
		})
	}
}

func TestDecodeJSONValue(t *testing.T) {
	t.Parallel()
	code, _, v := decodeCase(t, false, "application/json", strings.NewReader(`{"name":"a","episodes":3,"rate":0.5}`), -1)
	if code != 0 || v.Name != "a" || v.Episodes != 3 || v.Rate == nil || *v.Rate != 0.5 {
		t.Errorf("decoded %d %+v", code, v)
	}
}

func TestDecodeOptionalJSON(t *testing.T) {
	t.Parallel()
	// No body at all, with or without a Content-Type: nothing to decode.
	for _, ct := range []string{"", "application/json", "text/plain"} {
		if code, eb, v := decodeCase(t, true, ct, http.NoBody, 0); code != 0 || v.Name != "" {
			t.Errorf("no body, Content-Type %q: %d %+v", ct, code, eb)
		}
	}
	// A body follows every rule.
	if code, _, v := decodeCase(t, true, "application/json", strings.NewReader(`{"name":"a"}`), -1); code != 0 || v.Name != "a" {
		t.Errorf("body: %d %+v", code, v)
	}
	if code, _, _ := decodeCase(t, true, "", strings.NewReader(`{"name":"a"}`), 12); code != 415 {
		t.Errorf("body without a Content-Type: %d, want 415", code)
	}
	if code, _, _ := decodeCase(t, true, "application/json", strings.NewReader(`{"nope":1}`), 10); code != 400 {
		t.Errorf("unknown field: %d, want 400", code)
	}
}

func TestHasEscapedNUL(t *testing.T) {
	t.Parallel()
	for doc, want := range map[string]bool{
		`{"a":"\u0000"}`:      true,
		`{"\u0000":1}`:        true,
		`{"a":"x\\\u0000"}`:   true,  // an escaped backslash, then the escape
		`{"a":"\\u0000"}`:     false, // an escaped backslash, then the text u0000
		`{"a":"\\\\u0000"}`:   false,
		`{"a":"\"\u0000"}`:    true,
		`{"a":"\u00001"}`:     true,
		`{"a":"\u0001"}`:      false,
		`{"a":1} "\u0000"`:    true,
		`{"a":"b"}`:           false,
		`{"a":"unterminated\`: false,
	} {
		if got := hasEscapedNUL([]byte(doc)); got != want {
			t.Errorf("hasEscapedNUL(%s) = %v, want %v", doc, got, want)
		}
	}
}

// FuzzDecodeJSON feeds arbitrary bodies and Content-Types to DecodeJSON:
// it never panics; it refuses with 415 exactly when the Content-Type is
// not application/json in UTF-8, with 413 only for a body over the limit,
// and otherwise with 400; and what it accepts is one valid JSON object in
// UTF-8 with no NUL, which encoding/json decodes to the same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"name":"a","episodes":3,"rate":0.5,"labels":{"k":"v"},"inner":{"on":true}}`},
		{"application/json; charset=utf-8", `{}`},
		{"application/json", `{"name":"a\u0000"}`},
		{"application/json", `{"name":"a\\u0000"}`},
		{"application/json", "{\"name\":\"\xff\"}"},
		{"application/json", "{}\x00"},
		{"application/json", `{} {}`},
		{"application/json", `{"bogus":1}`},
		{"application/json", `[]`},
		{"application/json", ``},
		{"text/plain", `{}`},
		{"", `{}`},
	} {
		f.Add(seed.ct, []byte(seed.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		code, _, v := decodeCase(t, false, ct, bytes.NewReader(body), int64(len(body)))
		mt, params, err := mime.ParseMediaType(ct)
		jsonType := err == nil && mt == "application/json" && (params["charset"] == "" || strings.EqualFold(params["charset"], "utf-8"))
		switch {
		case !jsonType:
			if code != http.StatusUnsupportedMediaType {
				t.Fatalf("Content-Type %q: %d, want 415", ct, code)
			}
			return
		case len(body) > MaxBodyBytes:
			if code != http.StatusRequestEntityTooLarge {
				t.Fatalf("%d-byte body: %d, want 413", len(body), code)
			}
			return
		case code != 0 && code != http.StatusBadRequest:
			t.Fatalf("body %q: %d, want 0 or 400", body, code)
		case code != 0:
			return
		}
		trimmed := bytes.TrimLeft(body, jsonSpace)
		if !utf8.Valid(body) || bytes.IndexByte(body, 0) >= 0 || !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
			t.Fatalf("accepted %q", body)
		}
		var want sample
		if err := json.Unmarshal(body, &want); err != nil || !reflect.DeepEqual(v, want) {
			t.Fatalf("accepted %q as %+v; encoding/json: %+v, %v", body, v, want, err)
		}
		if containsNUL(reflect.ValueOf(v)) {
			t.Fatalf("accepted %q, which decodes to a NUL", body)
		}
	})
}

// containsNUL reports whether a string anywhere in v holds a NUL.
func containsNUL(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.String:
		return strings.IndexByte(v.String(), 0) >= 0
	case reflect.Pointer:
		return !v.IsNil() && containsNUL(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if containsNUL(v.Field(i)) {
				return true
			}
		}
	case reflect.Map:
		for it := v.MapRange(); it.Next(); {
			if containsNUL(it.Key()) || containsNUL(it.Value()) {
				return true
			}
		}
	}
	return false
}

package loadtest

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// endpoint is where requests go: one TCP address, with or without TLS.
// Each worker keeps one connection per endpoint.
type endpoint struct {
	addr       string // host:port to dial
	tls        bool
	serverName string // for TLS SNI and verification
}

// prepared is a [Target] made ready to send: its request serialised once
// for the built-in client, and kept as a template for net/http.
type prepared struct {
	name     string
	index    int // in the targeter's Targets
	method   string
	url      *url.URL
	host     string // the Host header sent
	header   http.Header
	body     []byte
	endpoint int
	wire     []byte // the whole HTTP/1.1 request: request line, headers, body
	head     bool   // HEAD: the response has no body whatever it says
}

// prepareTargets validates targets and serialises each one. userAgent and
// compression come from the [Attacker].
func prepareTargets(targets []Target, userAgent string, compression bool) ([]prepared, []endpoint, error) {
	var (
		out       = make([]prepared, len(targets))
		endpoints []endpoint
	)
	for i := range targets {
		t := &targets[i]
		p, ep, err := prepareTarget(t, userAgent, compression)
		if err != nil {
			return nil, nil, fmt.Errorf("prepare target %q: %w", t.displayName(), err)
		}
		p.index = i
		p.endpoint = -1
		for j, e := range endpoints {
			if e == ep {
				p.endpoint = j
			}
		}
		if p.endpoint < 0 {
			p.endpoint = len(endpoints)
			endpoints = append(endpoints, ep)
		}
		out[i] = p
	}
	return out, endpoints, nil
}

func prepareTarget(t *Target, userAgent string, compression bool) (prepared, endpoint, error) {
	method := t.method()
	if !ValidMethod(method) {
		return prepared{}, endpoint{}, fmt.Errorf("method %q is not one of %s", method, KnownMethods())
	}
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Error quotes the URL, which may hold credentials: keep
		// only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return prepared{}, endpoint{}, fmt.Errorf("parse URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return prepared{}, endpoint{}, fmt.Errorf("URL %q: scheme must be http or https", u.Redacted())
	}
	if u.Host == "" {
		return prepared{}, endpoint{}, fmt.Errorf("URL %q has no host", u.Redacted())
	}
	if u.User != nil {
		return prepared{}, endpoint{}, fmt.Errorf("URL %q: credentials in the URL are not supported; set an Authorization header", u.Redacted())
	}
	host, port := u.Hostname(), u.Port()
	defaultPort := "80"
	if u.Scheme == "https" {
		defaultPort = "443"
	}
	if port == "" {
		port = defaultPort
	}
	ep := endpoint{addr: net.JoinHostPort(host, port), tls: u.Scheme == "https", serverName: host}

	hostHeader := u.Host
	if port == defaultPort {
		hostHeader = host
		if strings.Contains(host, ":") {
			hostHeader = "[" + host + "]"
		}
	}
	for name, values := range t.Header {
		if !validHeaderName(name) {
			return prepared{}, endpoint{}, fmt.Errorf("header name %q is not valid", name)
		}
		for _, v := range values {
			if !validHeaderValue(v) {
				// Never print the value: it may be a credential.
				return prepared{}, endpoint{}, fmt.Errorf("header %s: value holds a control character", name)
			}
		}
		switch http.CanonicalHeaderKey(name) {
		case "Content-Length", "Transfer-Encoding":
			return prepared{}, endpoint{}, fmt.Errorf("header %s is computed and may not be set", name)
		case "Host":
			if len(values) > 0 {
				hostHeader = values[len(values)-1]
			}
		}
	}

	var b bytes.Buffer
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(hostHeader)
	b.WriteString("\r\n")
	header := t.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	header.Del("Host")
	if header.Get("User-Agent") == "" && userAgent != "" {
		header.Set("User-Agent", userAgent)
	}
	if compression && header.Get("Accept-Encoding") == "" {
		header.Set("Accept-Encoding", "gzip")
	}
	// Sorted, so the bytes on the wire are the same on every run.
	names := make([]string, 0, len(header))
	for name := range header {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, v := range header[name] {
			b.WriteString(name)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	if len(t.Body) > 0 || method == http.MethodPost || method == http.MethodPut || method == http.MethodPatch {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(t.Body)))
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	b.Write(t.Body)

	name := t.Name
	if name == "" {
		name = method + " " + u.EscapedPath()
		if name == method+" " {
			name += "/"
		}
	}
	return prepared{
		name:   name,
		method: method,
		url:    u,
		host:   hostHeader,
		header: header,
		body:   t.Body,
		wire:   b.Bytes(),
		head:   method == http.MethodHead,
	}, ep, nil
}

// validHeaderName reports whether s is an HTTP token (RFC 9110 5.6.2).
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters, which would let a value
// end the header early and smuggle in another.
func validHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

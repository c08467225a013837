package verify

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// PayloadTypeInToto is the DSSE payload type of an in-toto statement.
const PayloadTypeInToto = "application/vnd.in-toto+json"

// MaxEnvelopeSize caps what [ParseEnvelope] accepts. Provenance for a release
// is a few kilobytes; the cap only stops a hostile file from using memory.
const MaxEnvelopeSize = 16 << 20

// Envelope is a DSSE envelope
// (https://github.com/secure-systems-lab/dsse/blob/master/envelope.md) with
// its payload and signatures already base64-decoded.
type Envelope struct {
	PayloadType string
	Payload     []byte
	Signatures  []EnvelopeSignature
}

// EnvelopeSignature is one signature of an [Envelope].
type EnvelopeSignature struct {
	KeyID string
	Sig   []byte
}

type envelopeJSON struct {
	PayloadType *string `json:"payloadType"`
	Payload     *string `json:"payload"`
	Signatures  []struct {
		KeyID string  `json:"keyid"`
		Sig   *string `json:"sig"`
	} `json:"signatures"`
}

// ParseEnvelope parses a DSSE envelope in JSON. It rejects empty or oversized
// input, unknown top-level shapes, missing fields and bad base64 (standard or
// URL-safe, padded or not, as DSSE allows) with [ErrMalformedEnvelope]. On
// error the returned envelope is nil.
func ParseEnvelope(data []byte) (*Envelope, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty input", ErrMalformedEnvelope)
	}
	if len(data) > MaxEnvelopeSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the limit of %d", ErrMalformedEnvelope, len(data), MaxEnvelopeSize)
	}
	var raw envelopeJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformedEnvelope, jsonErr(data, err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON object", ErrMalformedEnvelope)
	}
	if raw.PayloadType == nil || raw.Payload == nil {
		if bytes.Contains(data, []byte(`"_type"`)) {
			return nil, fmt.Errorf("%w: this is a bare in-toto statement, not a signed envelope (was it generated without --sign?)", ErrMalformedEnvelope)
		}
		return nil, fmt.Errorf("%w: missing payloadType or payload", ErrMalformedEnvelope)
	}
	payload, err := decodeBase64(*raw.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: payload: %v", ErrMalformedEnvelope, err)
	}
	env := &Envelope{PayloadType: *raw.PayloadType, Payload: payload}
	for i, s := range raw.Signatures {
		if s.Sig == nil {
			return nil, fmt.Errorf("%w: signatures[%d]: missing sig", ErrMalformedEnvelope, i)
		}
		sig, err := decodeBase64(*s.Sig)
		if err != nil {
			return nil, fmt.Errorf("%w: signatures[%d].sig: %v", ErrMalformedEnvelope, i, err)
		}
		env.Signatures = append(env.Signatures, EnvelopeSignature{KeyID: s.KeyID, Sig: sig})
	}
	return env, nil
}

// MarshalJSON encodes the envelope as DSSE JSON with standard base64.
func (e *Envelope) MarshalJSON() ([]byte, error) {
	type sigJSON struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	out := struct {
		PayloadType string    `json:"payloadType"`
		Payload     string    `json:"payload"`
		Signatures  []sigJSON `json:"signatures"`
	}{PayloadType: e.PayloadType, Payload: base64.StdEncoding.EncodeToString(e.Payload), Signatures: []sigJSON{}}
	for _, s := range e.Signatures {
		out.Signatures = append(out.Signatures, sigJSON{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	return json.Marshal(out)
}

// PAE is DSSE's pre-authentication encoding of a payload and its type: the
// bytes that are actually signed.
func PAE(payloadType string, payload []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(payloadType) + len(payload) + 32)
	b.WriteString("DSSEv1 ")
	b.WriteString(strconv.Itoa(len(payloadType)))
	b.WriteByte(' ')
	b.WriteString(payloadType)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(len(payload)))
	b.WriteByte(' ')
	b.Write(payload)
	return b.Bytes()
}

// Verify checks that at least one signature of the envelope is pub's over
// the PAE of its payload type and payload, and returns that signature's key
// id. Signatures whose keyid names another key are skipped; if every
// signature does, the error is [ErrWrongKey] and names both keys.
func (e *Envelope) Verify(pub crypto.PublicKey) (keyID string, err error) {
	if ks, ok := pub.(KeySet); ok {
		return ks.verifyEnvelope(e)
	}
	keyID, err = KeyID(pub)
	if err != nil {
		return "", err
	}
	if len(e.Signatures) == 0 {
		return "", ErrNoSignature
	}
	digest := sha256.Sum256(PAE(e.PayloadType, e.Payload))
	var (
		firstErr error
		others   []string
	)
	for _, s := range e.Signatures {
		if s.KeyID != "" && s.KeyID != keyID {
			others = append(others, s.KeyID)
			continue
		}
		err := Digest(pub, digest[:], s.Sig)
		if err == nil {
			return keyID, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		if errors.Is(firstErr, ErrContentAltered) {
			return "", fmt.Errorf("%w: the payload or its type changed after key %s signed it", firstErr, keyID)
		}
		return "", fmt.Errorf("%w (key %s)", firstErr, keyID)
	}
	return "", fmt.Errorf("%w: the envelope was signed by %s, but the public key given is %s", ErrWrongKey, others[0], keyID)
}

// decodeBase64 accepts standard and URL-safe base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// jsonErr adds a line and column to a JSON syntax error.
func jsonErr(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := position(data, se.Offset)
		return fmt.Errorf("line %d, column %d: %v", line, col, err)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		line, col := position(data, te.Offset)
		return fmt.Errorf("line %d, column %d: field %q: expected %s, got %s", line, col, te.Field, te.Type, te.Value)
	}
	return err
}

func position(data []byte, off int64) (line, col int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

package slack

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Headers of Slack's request signing.
const (
	// HeaderSignature carries "v0=" and the hex HMAC of the request.
	HeaderSignature = "X-Slack-Signature"
	// HeaderTimestamp carries when Slack sent the request, in Unix seconds.
	HeaderTimestamp = "X-Slack-Request-Timestamp"
)

// Signature is Slack's v0 signature of a request body sent at timestamp (the
// X-Slack-Request-Timestamp header, Unix seconds as sent): "v0=" and the hex
// HMAC-SHA256, keyed with the signing secret, of "v0:<timestamp>:<body>".
func Signature(secret []byte, timestamp string, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("v0:" + timestamp + ":"))
	mac.Write(body)
	return "v0=" + hex.EncodeToString(mac.Sum(nil))
}

// requestError is a request refused before anything ran: the status to
// answer and a reason safe to log and show (no secret, no body).
type requestError struct {
	status int
	reason string
}

func (e *requestError) Error() string { return e.reason }

func unauthorized(reason string) *requestError {
	return &requestError{status: http.StatusUnauthorized, reason: reason}
}

func badRequest(reason string) *requestError {
	return &requestError{status: http.StatusBadRequest, reason: reason}
}

// verify checks a request signed with secret at time now: the timestamp is
// within MaxSkew of now and the signature matches, compared in constant
// time.
func verify(secret []byte, header http.Header, body []byte, now, since time.Time) error {
	if len(secret) == 0 {
		return unauthorized("no signing secret configured (FIREBREAK_SLACK_SIGNING_SECRET); HTTP requests are refused")
	}
	ts, sig := header.Get(HeaderTimestamp), header.Get(HeaderSignature)
	if ts == "" || sig == "" {
		return unauthorized("missing " + HeaderTimestamp + " or " + HeaderSignature)
	}
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return unauthorized("malformed " + HeaderTimestamp)
	}
	if skew := now.Sub(time.Unix(secs, 0)); skew > MaxSkew || skew < -MaxSkew {
		return unauthorized("timestamp more than 5 minutes off (stale or replayed request, or a wrong clock)")
	}
	if !hmac.Equal([]byte(Signature(secret, ts, body)), []byte(sig)) {
		return unauthorized("signature does not match")
	}
	if time.Unix(secs, 0).Before(since) {
		return unauthorized("signed before this store was initialised: a request to the store that lost its data, " +
			"which would run again (firebreak store init)")
	}
	return nil
}

// readVerified reads the body of r (at most MaxBody bytes) and verifies its
// signature.
func (a *Adapter) readVerified(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, badRequest("body over 1 MiB")
		}
		return nil, badRequest("unreadable body")
	}
	if err := verify(a.secret, r.Header, body, a.clock.Now(), a.since); err != nil {
		return nil, err
	}
	return body, nil
}

// refuse answers a request refused before anything ran, and logs why
// (without secrets, signatures or the body).
func (a *Adapter) refuse(w http.ResponseWriter, r *http.Request, err error) {
	re, ok := errors.AsType[*requestError](err)
	if !ok {
		re = badRequest(err.Error())
	}
	a.log.WarnContext(r.Context(), "slack request refused", "path", r.URL.Path, "status", re.status,
		"reason", re.reason, "remote", r.RemoteAddr)
	http.Error(w, re.reason, re.status)
}

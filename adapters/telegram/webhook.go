package telegram

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"github.com/firebreak/firebreak/workflow"
)

// maxUpdateBytes bounds the body of one webhook request.
const maxUpdateBytes = 1 << 20

// handleTimeout bounds the handling of one webhook update; it does not end
// when Telegram hangs up, so an action is never left half-answered.
const handleTimeout = 30 * time.Second

// Register serves POST /telegram/webhook on mux.
func (a *Adapter) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST "+WebhookPath, a.serveWebhook)
}

// serveWebhook checks the secret header (401 and nothing handled when it is
// wrong or missing), decodes the update (400 when malformed) and handles it
// once. A failure answers 500 so that Telegram delivers the update again; an
// update another try is handling answers 503 for the same reason.
func (a *Adapter) serveWebhook(w http.ResponseWriter, r *http.Request) {
	if !a.secretOK(r.Header.Get("X-Telegram-Bot-Api-Secret-Token")) {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	var u tgbotapi.Update
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxUpdateBytes))
	if err := dec.Decode(&u); err != nil || u.UpdateID <= 0 {
		http.Error(w, "malformed update", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), handleTimeout)
	defer cancel()
	switch err := a.HandleUpdate(ctx, u); {
	case err == nil:
		w.WriteHeader(http.StatusOK)
	case errors.Is(err, ErrBusy):
		w.Header().Set("Retry-After", "5")
		http.Error(w, "update in progress", http.StatusServiceUnavailable)
	case workflow.ErrorCode(err) == workflow.CodeUnavailable:
		a.log.WarnContext(ctx, "telegram: storage unavailable; Telegram will deliver the update again", "update", u.UpdateID, "err", err)
		w.Header().Set("Retry-After", "5")
		http.Error(w, "storage unavailable", http.StatusServiceUnavailable)
	default:
		a.log.ErrorContext(ctx, "telegram: webhook update failed; Telegram will deliver it again", "update", u.UpdateID, "err", err)
		http.Error(w, "update failed", http.StatusInternalServerError)
	}
}

// secretOK compares the header with the secret in constant time (over
// hashes, so that not even the length leaks). Without a secret configured
// nothing is accepted.
func (a *Adapter) secretOK(got string) bool {
	if a.secret == "" || got == "" {
		return false
	}
	g, want := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(a.secret))
	return subtle.ConstantTimeCompare(g[:], want[:]) == 1
}

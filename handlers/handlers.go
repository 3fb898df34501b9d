// Package handlers is Firebreak's command set: every command, button action
// and notification of the handling plan, rendered in English or Chinese. It
// calls workflow for every rule and never imports an adapter.
package handlers

import (
	"time"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// Handlers holds what the commands need.
type Handlers struct {
	svc    *workflow.Service
	roster *workflow.Roster
	locale string
	// asOf, when set, is the moment the words speak from instead of the
	// clock's now: a report is as of the time it names (clockTime shows a
	// date when it is not that day's, time left counts from it).
	asOf time.Time
	// publicURL is the web's public base URL ("https://fb.example.org"),
	// so that a reply links to a page there; "": paths only.
	publicURL string
}

// SetPublicURL makes replies link to the web's pages at base, the public
// base URL of the server ("https://fb.example.org", no trailing slash),
// instead of naming their paths.
func (h *Handlers) SetPublicURL(base string) { h.publicURL = base }

// New returns the command set over svc, speaking locale.
func New(svc *workflow.Service, locale string) *Handlers {
	return &Handlers{svc: svc, roster: svc.Roster(), locale: locale}
}

// Register adds every command and action to r.
func (h *Handlers) Register(r *bot.Router) {
	for _, c := range append(append(h.commands(), h.escalationCommands()...), h.intakeCommands()...) {
		r.Command(c)
	}
	for _, a := range append(h.actions(), h.intakeActions()...) {
		r.Action(a)
	}
}

// t picks the text of the handlers' locale.
func (h *Handlers) t(en, zh string) string { return tx{EN: en, ZH: zh}.In(h.locale) }

func (h *Handlers) now() time.Time {
	if !h.asOf.IsZero() {
		return h.asOf
	}
	return h.svc.Clock().Now()
}

func (h *Handlers) loc() *time.Location { return h.roster.Location() }

func (h *Handlers) name(id string) string {
	if id == "" {
		return h.t("nobody", "无")
	}
	return h.roster.Name(id)
}

// Package core builds Firebreak's platform-neutral core — the Service, the
// command handlers and the router they are registered on — for the commands
// under cmd/ that run it: cmd/firebreak (the composition root) and
// cmd/fbload (which serves the Slack path in-process to measure it). Both
// call New, so the load test measures the wiring that ships.
//
// It builds nothing that talks to the outside: the caller brings the Store,
// the roster and the clock, and adds platforms, timers and delivery itself.
package core

import (
	"log/slog"

	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// Options is what New wires together.
type Options struct {
	// Store keeps incidents, timers and the outbox (the Redis Store).
	Store workflow.Store
	// Roster says who is who and the policy in force.
	Roster *workflow.Roster
	// Locale of the replies; empty: the roster's.
	Locale string
	// Clock tells the Service the time; nil: the wall clock.
	Clock workflow.Clock
	// Log receives the router's request logs; nil: discarded.
	Log *slog.Logger
	// Metrics counts the router's requests; nil: a fresh set.
	Metrics *bot.Metrics
	// MaxInFlight bounds the requests the router handles at once; beyond
	// it they are answered "busy" at once (bot.Shed); 0: bot.MaxInFlight.
	MaxInFlight int
	// Refuse, when set and returning an error, refuses every request with
	// it (bot.Refuse): the store lost its data.
	Refuse func() error
	// PublicURL is the web's public base URL, for links in replies; "":
	// paths only.
	PublicURL string
}

// Parts is the core New built.
type Parts struct {
	Service  *workflow.Service
	Handlers *handlers.Handlers
	// Router has every command and action of Handlers registered, behind
	// the logging, metrics, load-shedding, refusal and recovery middleware.
	Router  *bot.Router
	Metrics *bot.Metrics
}

// New builds the Service, the Handlers and the Router from o. This is the
// one place they are built: a change to how they fit together (how a
// transition's notices are worded, which middleware runs) is made here.
func New(o Options) *Parts {
	locale := o.Locale
	if locale == "" {
		locale = o.Roster.Locale
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	metrics := o.Metrics
	if metrics == nil {
		metrics = &bot.Metrics{}
	}

	// The Service decides who is told of what; the Handlers word it at
	// delivery (Handlers.Render, the dispatchers' bot.Renderer).
	svc := workflow.NewService(o.Store, o.Roster, o.Clock)
	if is, ok := o.Store.(workflow.IntakeStore); ok {
		svc.UseIntake(is) // the Redis store keeps the monitoring candidates too
	}
	h := handlers.New(svc, locale)
	h.SetPublicURL(o.PublicURL)

	router := bot.NewRouter(o.Roster, locale, log)
	router.Use(bot.Logging(log), metrics.Count(), bot.Shed(o.MaxInFlight, metrics), bot.Refuse(o.Refuse), bot.Recover(log))
	h.Register(router)
	return &Parts{Service: svc, Handlers: h, Router: router, Metrics: metrics}
}

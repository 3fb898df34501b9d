package main

import (
	"context"
	"net/http"
	"time"

	"github.com/firebreak/firebreak/adapters/web"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/handlers"
	"github.com/firebreak/firebreak/workflow"
)

// setupWeb registers the playground (when playground is true) and the board
// on mux, and returns the web adapter's outbox sender; it never fails today.
// The sender runs in production too: its deliveries tell open boards that
// incidents changed. With neither the playground nor the board (no board
// token) no page can show a notice, and there is no sender (nil): it would
// cost four Redis round trips a notice for nobody. The event streams end
// when ctx is done, so that the HTTP server can shut down.
func setupWeb(ctx context.Context, a *app, cfg Config, mux *http.ServeMux, playground bool) (bot.Sender, error) {
	log := a.log.With("adapter", "web")
	srv := web.New(web.Config{
		Router: a.router, Incidents: a.store, Roster: a.roster, Locale: a.locale, Describe: eventLines(a), Reports: reports(a),
		Clock: a.clock, Scale: clockScale(a.clock), Playground: playground, Token: cfg.BoardToken, TrustProxy: cfg.TrustProxy, Log: log,
		Intake: a.svc, IntakeToken: cfg.IntakeToken,
	})
	srv.Register(mux)
	context.AfterFunc(ctx, srv.Close)
	if !playground && cfg.BoardToken == "" {
		log.Warn("the incident board is off: set " + envPrefix + "_BOARD_TOKEN to turn it on")
		return nil, nil
	}
	return srv.Sender(), nil
}

// eventLines describes timeline events as the chat does (handlers'
// EventLine), in the locale a page asks for: the app's handlers speak the
// app's locale, and a second Handlers on the same service speaks the other,
// for a person who switched the page's language.
func eventLines(a *app) func(workflow.Event, string) string {
	other := workflow.LocaleEN
	if a.locale == workflow.LocaleEN {
		other = workflow.LocaleZH
	}
	byLocale := map[string]*handlers.Handlers{a.locale: a.h, other: handlers.New(a.svc, other)}
	return func(e workflow.Event, locale string) string {
		if h, ok := byLocale[locale]; ok {
			return h.EventLine(e)
		}
		return a.h.EventLine(e)
	}
}

// reports builds the handling report of an incident in the locale a page
// asks for, with the handlers of that locale (as eventLines does).
func reports(a *app) web.Reports {
	byLocale := map[string]*handlers.Handlers{a.locale: a.h}
	for _, l := range []string{workflow.LocaleEN, workflow.LocaleZH} {
		if byLocale[l] == nil {
			byLocale[l] = handlers.New(a.svc, l)
		}
	}
	return func(inc *workflow.Incident, events []workflow.Event, locale string, asOf time.Time) *bot.Report {
		h, ok := byLocale[locale]
		if !ok {
			h = a.h
		}
		return h.BuildReport(inc, events, asOf)
	}
}

// clockScale is how fast the app's clock runs against the wall clock, so the
// page's countdowns keep pace between fetches: the demo clock's scale, 0 for
// a clock that only moves when told (tests), 1 otherwise.
func clockScale(c workflow.Clock) float64 {
	switch c := c.(type) {
	case *workflow.ScaledClock:
		return c.Scale
	case *workflow.ManualClock:
		return 0
	case *workflow.OffsetClock:
		return clockScale(c.Base()) // runs as its base runs
	}
	return 1
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/kelseyhightower/envconfig"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	fbslack "github.com/firebreak/firebreak/adapters/slack"
	"github.com/firebreak/firebreak/adapters/telegram"
	"github.com/firebreak/firebreak/bot"
	"github.com/firebreak/firebreak/workflow"
)

// plugins are the chat platforms Firebreak runs on, as their adapters
// describe them: the roster's keys for their IDs, their settings and how
// they start. A new platform is one line here.
var plugins = []bot.Plugin{
	fbslack.Plugin,
	telegram.Plugin,
}

// platforms returns the plugins' identity rules: the roster file takes
// their keys ("slack: U0CHEN") and checks IDs with them.
func platforms() []workflow.Platform {
	ps := make([]workflow.Platform, len(plugins))
	for i, p := range plugins {
		ps[i] = p.Platform
	}
	return ps
}

// readPlatformSettings reads every plugin's settings from the environment,
// in the order of plugins.
func readPlatformSettings() ([]bot.PluginSettings, error) {
	settings := make([]bot.PluginSettings, len(plugins))
	for i, p := range plugins {
		settings[i] = p.Settings()
		if err := envconfig.Process(envPrefix, settings[i]); err != nil {
			return nil, err
		}
	}
	return settings, nil
}

// printPlatformSettings writes the rows of every plugin's variables in the
// table of `firebreak config`.
func printPlatformSettings(w io.Writer) error {
	for _, p := range plugins {
		if err := envconfig.Usagef(envPrefix, p.Settings(), w, configRows); err != nil {
			return err
		}
	}
	return nil
}

// running names the platforms the configuration runs, for
// rosterfile.LoadRunning: each needs its incidents and statements channels,
// and the leaders must be reachable on one of them.
func running(cfg Config) []string {
	var names []string
	for i, s := range cfg.Platforms {
		if s.Enabled() {
			names = append(names, plugins[i].Platform.Name)
		}
	}
	return names
}

// setupPlatforms starts the platforms the configuration enables, their
// endpoints on mux, and returns their outbox senders. Closing the app
// stops them, before Redis is closed.
func setupPlatforms(ctx context.Context, a *app, cfg Config, mux *http.ServeMux) ([]bot.Sender, error) {
	host := bot.Host{
		Router: a.router, Roster: a.roster, Locale: a.locale, Log: a.log, Clock: a.clock, Metrics: a.metrics,
		Mux: mux, Locker: a.store,
		State: func(platform string) bot.PlatformState { return a.store.PlatformState(platform) },
	}
	if inst, ok := a.store.Instance(); ok && inst.By != fbredis.InitAdopted {
		// An adopted store kept its data, and with it what was handled.
		host.StoreSince = inst.Created
	}
	var senders []bot.Sender
	for i, s := range cfg.Platforms {
		if !s.Enabled() {
			continue
		}
		name := plugins[i].Platform.Name
		sender, stop, err := s.Start(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("start %s: %w", name, err)
		}
		a.closers = append(a.closers, stop)
		senders = append(senders, sender)
		warnMissingChannels(a, name)
	}
	return senders, nil
}

// warnMissingChannels logs the channels a configured platform has no
// address for in the roster. A roster file with such a gap is refused when
// it is loaded (rosterfile.LoadRunning); only the built-in demo roster,
// whose statements are on Slack only, gets here with one, and the demo
// still runs.
func warnMissingChannels(a *app, platform string) {
	if missing := a.roster.MissingChannels(platform); len(missing) > 0 {
		a.log.Warn("a configured platform has no address in the roster for some channels; what goes there is not posted on it",
			"platform", platform, "channels", strings.Join(missing, ", "))
	}
}

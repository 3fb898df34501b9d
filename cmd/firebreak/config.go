package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/kelseyhightower/envconfig"
	goredis "github.com/redis/go-redis/v9"

	fbredis "github.com/firebreak/firebreak/adapters/redis"
	"github.com/firebreak/firebreak/bot"
)

// envPrefix is the prefix of every environment variable.
const envPrefix = "FIREBREAK"

// Config is everything Firebreak reads from the environment
// (`firebreak config` prints this table).
type Config struct {
	HTTPAddr  string  `envconfig:"HTTP_ADDR" default:":8080" desc:"address of the HTTP server (health, Slack, Telegram, playground)"`
	RedisURL  string  `envconfig:"REDIS_URL" desc:"redis:// URL of Redis (rediss:// for TLS), in the form of REDIS_MODE; unset: an embedded in-memory Redis that keeps nothing (trying it out only)"`
	RedisMode string  `envconfig:"REDIS_MODE" default:"single" desc:"how Redis is deployed: single, cluster (REDIS_URL redis://host1:port1?addr=host2:port2) or sentinel (redis://sentinel1:port1?master_name=NAME&addr=sentinel2:port2); docs/redis.md"`
	Roster    string  `envconfig:"ROSTER" desc:"path of the roster YAML file; unset: the built-in demo roster"`
	Locale    string  `envconfig:"LOCALE" desc:"language of replies, en or zh-CN; unset: the roster's locale"`
	Timezone  string  `envconfig:"TIMEZONE" desc:"IANA timezone for digests and same-day deadlines; unset: the roster's timezone"`
	TimeScale float64 `envconfig:"TIME_SCALE" default:"1" desc:"demo only: 60 makes an hour pass in a minute"`
	LogLevel  string  `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	RedisTLSCA   string `envconfig:"REDIS_TLS_CA" desc:"PEM file of the CA that signs the Redis servers' certificates (a private CA; rediss:// only); unset: the system's"`
	RedisTLSCert string `envconfig:"REDIS_TLS_CERT" desc:"PEM file of a client certificate for Redis (tls-auth-clients), with REDIS_TLS_KEY"`
	RedisTLSKey  string `envconfig:"REDIS_TLS_KEY" desc:"PEM file of the private key of REDIS_TLS_CERT"`

	IntakeToken string `envconfig:"INTAKE_TOKEN" desc:"bearer token of POST /intake for every monitoring source (tokens per source go in the roster's intake block)"`
	PublicURL   string `envconfig:"PUBLIC_URL" desc:"public base URL of this server (https://firebreak.example.org): replies link to its pages there, such as a handling report; unset: they name the path"`
	BoardToken  string `envconfig:"BOARD_TOKEN" desc:"token for the incident board when a platform is configured (the playground is off then)"`
	TrustProxy  bool   `envconfig:"TRUST_PROXY" desc:"the board is behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-For (overwriting the client's): cookies are Secure (unless it says X-Forwarded-Proto: http), logins limited per forwarded client"`

	// Platforms are the settings of each of plugins, in their order (each
	// adapter names its own variables: FIREBREAK_SLACK_*, …_TELEGRAM_*).
	Platforms []bot.PluginSettings `ignored:"true"`
}

// platformConfigured reports whether a chat platform is set up; without
// one, `serve` runs the playground.
func (c Config) platformConfigured() bool { return len(running(c)) > 0 }

// loadConfig reads the environment.
func loadConfig() (Config, error) {
	var c Config
	if err := envconfig.Process(envPrefix, &c); err != nil {
		return c, err
	}
	var err error
	if c.Platforms, err = readPlatformSettings(); err != nil {
		return c, err
	}
	if err := c.checkPublicURL(); err != nil {
		return c, err
	}
	return c, c.checkRedis()
}

// checkPublicURL refuses a PUBLIC_URL that is no http(s) base URL, and
// keeps it without a trailing slash, so that paths append to it.
func (c *Config) checkPublicURL() error {
	if c.PublicURL == "" {
		return nil
	}
	// The value is not repeated in the error: it might hold a password.
	const want = "%s_PUBLIC_URL must be the http(s) base URL of this server, such as https://firebreak.example.org: %s"
	u, err := url.Parse(c.PublicURL)
	switch {
	case err != nil:
		return fmt.Errorf(want, envPrefix, "it does not parse as a URL")
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return fmt.Errorf(want, envPrefix, "it needs https:// (or http://) and a host")
	case u.User != nil:
		return fmt.Errorf(want, envPrefix, "it must not hold a user or password")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf(want, envPrefix, "it must not have a query or fragment")
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	return nil
}

// redisEnv names the variable of each Redis dial setting.
var redisEnv = map[string]string{
	fbredis.SettingURL:     envPrefix + "_REDIS_URL",
	fbredis.SettingMode:    envPrefix + "_REDIS_MODE",
	fbredis.SettingTLSCA:   envPrefix + "_REDIS_TLS_CA",
	fbredis.SettingTLSCert: envPrefix + "_REDIS_TLS_CERT",
	fbredis.SettingTLSKey:  envPrefix + "_REDIS_TLS_KEY",
}

// checkRedis refuses a Redis mode that does not exist, and a mode or TLS
// files without REDIS_URL: the embedded Redis is a single one, without TLS.
func (c Config) checkRedis() error {
	switch fbredis.Mode(c.RedisMode) {
	case "", fbredis.ModeSingle, fbredis.ModeCluster, fbredis.ModeSentinel:
	default:
		return fmt.Errorf("%s must be single, cluster or sentinel, not %q", redisEnv[fbredis.SettingMode], c.RedisMode)
	}
	if c.RedisURL != "" {
		return nil
	}
	const embedded = "%s is set, but %s is not: the embedded Redis used instead is a single one, without TLS"
	if m := fbredis.Mode(c.RedisMode); m != "" && m != fbredis.ModeSingle {
		return fmt.Errorf(embedded, redisEnv[fbredis.SettingMode]+"="+c.RedisMode, redisEnv[fbredis.SettingURL])
	}
	for _, set := range []struct{ setting, value string }{
		{fbredis.SettingTLSCA, c.RedisTLSCA}, {fbredis.SettingTLSCert, c.RedisTLSCert}, {fbredis.SettingTLSKey, c.RedisTLSKey},
	} {
		if set.value != "" {
			return fmt.Errorf(embedded, redisEnv[set.setting], redisEnv[fbredis.SettingURL])
		}
	}
	return nil
}

// dialRedis connects to the Redis at url, in the mode and with the TLS
// files of c when url is c.RedisURL (not the embedded Redis). A setting
// that cannot be used is named by its environment variable.
func dialRedis(ctx context.Context, c Config, url string) (goredis.UniversalClient, error) {
	opts := fbredis.DialOptions{URL: url}
	if url == c.RedisURL {
		opts = fbredis.DialOptions{URL: url, Mode: fbredis.Mode(c.RedisMode),
			TLSCA: c.RedisTLSCA, TLSCert: c.RedisTLSCert, TLSKey: c.RedisTLSKey}
	}
	client, err := fbredis.DialWith(ctx, opts)
	var se *fbredis.SettingError
	if errors.As(err, &se) && redisEnv[se.Setting] != "" {
		return nil, fmt.Errorf("%s: %w", redisEnv[se.Setting], se.Err)
	}
	return client, err
}

package main

import (
	"github.com/kelseyhightower/envconfig"
)

// envPrefix is the prefix of every environment variable.
const envPrefix = "FIREBREAK"

// Config is everything Firebreak reads from the environment
// (`firebreak config` prints this table).
type Config struct {
	HTTPAddr  string  `envconfig:"HTTP_ADDR" default:":8080" desc:"address of the HTTP server (health, Slack, Telegram, playground)"`
	RedisURL  string  `envconfig:"REDIS_URL" desc:"redis:// URL of Redis; unset: an embedded in-memory Redis that keeps nothing (trying it out only)"`
	Roster    string  `envconfig:"ROSTER" desc:"path of the roster YAML file; unset: the built-in demo roster"`
	Locale    string  `envconfig:"LOCALE" desc:"language of replies, en or zh-CN; unset: the roster's locale"`
	Timezone  string  `envconfig:"TIMEZONE" desc:"IANA timezone for digests and same-day deadlines; unset: the roster's timezone"`
	TimeScale float64 `envconfig:"TIME_SCALE" default:"1" desc:"demo only: 60 makes an hour pass in a minute"`
	LogLevel  string  `envconfig:"LOG_LEVEL" default:"info" desc:"debug, info, warn or error"`

	SlackBotToken      string `envconfig:"SLACK_BOT_TOKEN" desc:"Slack bot token (xoxb-...)"`
	SlackSigningSecret string `envconfig:"SLACK_SIGNING_SECRET" desc:"Slack signing secret, to verify requests"`
	SlackAppToken      string `envconfig:"SLACK_APP_TOKEN" desc:"Slack app-level token (xapp-...) for Socket Mode"`
	SlackAPIURL        string `envconfig:"SLACK_API_URL" desc:"override of the Slack Web API base URL"`

	TelegramToken         string `envconfig:"TELEGRAM_TOKEN" desc:"Telegram bot token from BotFather"`
	TelegramMode          string `envconfig:"TELEGRAM_MODE" default:"webhook" desc:"webhook or poll"`
	TelegramWebhookURL    string `envconfig:"TELEGRAM_WEBHOOK_URL" desc:"public URL of POST /telegram/webhook, registered at start-up"`
	TelegramWebhookSecret string `envconfig:"TELEGRAM_WEBHOOK_SECRET" desc:"secret_token Telegram sends in X-Telegram-Bot-Api-Secret-Token"`
	TelegramAPIEndpoint   string `envconfig:"TELEGRAM_API_ENDPOINT" desc:"override of the Bot API endpoint, format http://host/bot%s/%s"`

	BoardToken string `envconfig:"BOARD_TOKEN" desc:"token for the incident board when a platform is configured (the playground is off then)"`
	TrustProxy bool   `envconfig:"TRUST_PROXY" desc:"the board is behind a reverse proxy that sets X-Forwarded-Proto and X-Forwarded-For (overwriting the client's): cookies are Secure over its https, logins limited per forwarded client"`
}

// platformConfigured reports whether Slack or Telegram is set up; without
// either, `serve` runs the playground.
func (c Config) platformConfigured() bool {
	return c.SlackBotToken != "" || c.SlackAppToken != "" || c.TelegramToken != ""
}

// loadConfig reads the environment.
func loadConfig() (Config, error) {
	var c Config
	err := envconfig.Process(envPrefix, &c)
	return c, err
}

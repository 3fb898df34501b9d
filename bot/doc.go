// Package bot is Firebreak's platform-neutral engine: a Request from any
// platform (a typed command or a pressed button), the Reply it gets, a Router
// on which commands are registered as data, middleware, generated help, and
// the Message format of notifications delivered through the outbox.
//
// Adapters translate platform input into a Request and render Replies and
// Messages; no rule of the handling plan lives in them or here.
package bot

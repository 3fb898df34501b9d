package bot

import "github.com/firebreak/firebreak/workflow"

// Once keeps a request from taking effect twice: the first copy of a
// request with its key runs, a copy arriving later (a replay, a platform's
// retry) finds the key taken and changes nothing. A store that can take the
// key together with the request's first round trip to it hands out a Once
// with the context the request runs in; the request then pays nothing for
// the guard when it reads first (the key rides along with the read) and
// the guard is settled before anything is written. A request that never
// reaches the store (refused as busy, a help text) takes no key at all.
type Once interface {
	// Decided reports the fate of the request's key: taken by this copy
	// (first), or by another one (not first); err when the round trip
	// that was to take it failed. ok is false while the request has made
	// no storage call: it has changed nothing, and a copy of it may run
	// again.
	Decided() (first, ok bool, err error)
}

// ErrRepeated is what a storage call of a request returns when another
// copy of the request took its key first: nothing was done, nothing will
// be.
var ErrRepeated = workflow.Errorf(workflow.CodeConflict,
	"This command was received already and is being handled; it was not run twice.",
	"该命令已收到并正在处理,不会重复执行。")

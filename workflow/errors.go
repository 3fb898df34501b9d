package workflow

import (
	"errors"
	"fmt"
)

// Code classifies an Error so that callers can decide how to answer it.
type Code string

// Error codes. Only CodeInternal is a fault of the program; the others describe
// something the person can act on.
const (
	CodeInvalid     Code = "invalid"
	CodeNotFound    Code = "not_found"
	CodeForbidden   Code = "forbidden"
	CodeConflict    Code = "conflict"
	CodeUnavailable Code = "unavailable"
	CodeInternal    Code = "internal"
)

// Text is a message in both languages Firebreak speaks.
type Text struct {
	EN string
	ZH string
}

// In returns the text in locale ("zh-CN" or "en"; anything else is English).
func (t Text) In(locale string) string {
	if locale == LocaleZH && t.ZH != "" {
		return t.ZH
	}
	return t.EN
}

// Locales Firebreak speaks.
const (
	LocaleEN = "en"
	LocaleZH = "zh-CN"
)

// Error is an application error: a code, a message a person can act on, and
// optionally the low-level error behind it (never shown to people).
type Error struct {
	Code Code
	Msg  Text
	Err  error
}

// Error returns the English message, with the cause when there is one.
func (e *Error) Error() string {
	if e.Err != nil {
		if e.Msg.EN == "" {
			return e.Err.Error()
		}
		return e.Msg.EN + ": " + e.Err.Error()
	}
	return e.Msg.EN
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf builds an Error whose English and Chinese messages are formatted with
// the same arguments.
func Errorf(code Code, en, zh string, args ...any) *Error {
	return &Error{Code: code, Msg: Text{EN: fmt.Sprintf(en, args...), ZH: fmt.Sprintf(zh, args...)}}
}

// ErrorCode returns the code of err: the Code of the first *Error in its chain,
// CodeInternal for any other non-nil error, "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorText returns the person-facing message of err, or nil when err carries
// none (then only a generic "internal error" may be shown).
func ErrorText(err error) *Text {
	var e *Error
	if errors.As(err, &e) && e.Code != CodeInternal && e.Msg.EN != "" {
		t := e.Msg
		return &t
	}
	return nil
}

// ErrUnreadable is in the chain of a Store's error about a record that
// exists but cannot be read (not the JSON it should be, a key of another
// type): no retry can read it; an operator must restore or delete it.
var ErrUnreadable = errors.New("the stored record cannot be read")

// ErrConflict is returned by Store.Apply when the incident changed since it
// was read (the compare-and-set failed). The Service retries on it.
var ErrConflict = &Error{Code: CodeConflict, Msg: Text{
	EN: "the incident was changed by someone else at the same moment; try again",
	ZH: "该事件刚被他人修改,请重试",
}}

// Unavailable wraps a storage failure into the error people see when Redis
// cannot be reached: nothing was changed.
// UnknownOutcome is a store error of a write that was sent and whose
// answer did not come (a stalled Redis): the write may run when the store
// answers again, so people are told so, not that nothing changed.
func UnknownOutcome(err error) *Error {
	return &Error{Code: CodeUnavailable, Err: err, Msg: Text{
		EN: "storage did not answer in time: the change may or may not have been made; check (status, list) before trying again",
		ZH: "存储未及时响应:更改可能已生效,也可能未生效;请先查看(status、list)再重试",
	}}
}

func Unavailable(err error) *Error {
	return &Error{Code: CodeUnavailable, Err: err, Msg: Text{
		EN: "storage unavailable, nothing was changed; try again shortly",
		ZH: "存储暂不可用,未做任何更改,请稍后重试",
	}}
}

package workflow_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/firebreak/firebreak/workflow"
)

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want workflow.Code
	}{
		{"nil", nil, ""},
		{"plain error is internal", errors.New("boom"), workflow.CodeInternal},
		{"application error", workflow.Errorf(workflow.CodeForbidden, "no", "不"), workflow.CodeForbidden},
		{"wrapped", fmt.Errorf("load incident: %w", workflow.Errorf(workflow.CodeNotFound, "no YQ-9", "无 YQ-9")), workflow.CodeNotFound},
		{"conflict", workflow.ErrConflict, workflow.CodeConflict},
		{"unavailable", workflow.Unavailable(errors.New("dial tcp")), workflow.CodeUnavailable},
		{"first in the chain wins", &workflow.Error{Code: workflow.CodeConflict, Err: workflow.ErrConflict}, workflow.CodeConflict},
		{"outer code over inner", &workflow.Error{Code: workflow.CodeUnavailable,
			Err: workflow.Errorf(workflow.CodeInvalid, "x", "x")}, workflow.CodeUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := workflow.ErrorCode(tt.err); got != tt.want {
				t.Errorf("ErrorCode: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want *workflow.Text
	}{
		{"nil", nil, nil},
		{"plain error has none", errors.New("dial tcp 10.0.0.7:6379"), nil},
		{"application error", workflow.Errorf(workflow.CodeInvalid, "title %d", "标题 %d", 7),
			&workflow.Text{EN: "title 7", ZH: "标题 7"}},
		{"wrapped", fmt.Errorf("x: %w", workflow.Errorf(workflow.CodeConflict, "busy", "忙")),
			&workflow.Text{EN: "busy", ZH: "忙"}},
		{"internal never shows its message", &workflow.Error{Code: workflow.CodeInternal, Msg: workflow.Text{EN: "redis said ERR"}}, nil},
		{"no message", &workflow.Error{Code: workflow.CodeInvalid, Err: errors.New("low level")}, nil},
		{"unavailable shows the storage message, not the cause", workflow.Unavailable(errors.New("dial tcp 10.0.0.7:6379")),
			&workflow.Text{EN: "storage unavailable, nothing was changed; try again shortly", ZH: "存储暂不可用,未做任何更改,请稍后重试"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := workflow.ErrorText(tt.err)
			switch {
			case got == nil && tt.want == nil:
			case got == nil || tt.want == nil || *got != *tt.want:
				t.Errorf("ErrorText: got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	cause := errors.New("dial tcp")
	tests := []struct {
		name string
		err  *workflow.Error
		want string
	}{
		{"message only", workflow.Errorf(workflow.CodeInvalid, "needs a title", "需要标题"), "needs a title"},
		{"message and cause", workflow.Unavailable(cause), "storage unavailable, nothing was changed; try again shortly: dial tcp"},
		{"cause only", &workflow.Error{Code: workflow.CodeInternal, Err: cause}, "dial tcp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error(): got %q, want %q", got, tt.want)
			}
		})
	}
	if !errors.Is(workflow.Unavailable(cause), cause) {
		t.Errorf("errors.Is(Unavailable(cause), cause): got false, want true")
	}
}

func TestTextIn(t *testing.T) {
	both := workflow.Text{EN: "approve", ZH: "批准"}
	tests := []struct {
		name   string
		text   workflow.Text
		locale string
		want   string
	}{
		{"english", both, workflow.LocaleEN, "approve"},
		{"chinese", both, workflow.LocaleZH, "批准"},
		{"unknown locale is english", both, "fr", "approve"},
		{"empty locale is english", both, "", "approve"},
		{"zh without the region is english", both, "zh", "approve"},
		{"chinese missing falls back to english", workflow.Text{EN: "approve"}, workflow.LocaleZH, "approve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.text.In(tt.locale); got != tt.want {
				t.Errorf("In(%q): got %q, want %q", tt.locale, got, tt.want)
			}
		})
	}
}

func TestErrorsAreBilingual(t *testing.T) {
	for _, err := range []*workflow.Error{workflow.ErrConflict, workflow.Unavailable(nil)} {
		if err.Msg.EN == "" || err.Msg.ZH == "" {
			t.Errorf("%v: got EN %q ZH %q, want both", err, err.Msg.EN, err.Msg.ZH)
		}
	}
}

package api_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/commission"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestProblemFor(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		status int
		kind   string
		field  string
	}{
		{"trace validation", trace.Invalid("packs[2].serial", "%q is not GS1 character set 82", "a b"), 422, api.ProbInvalidField, "packs[2].serial"},
		{"chaincode validation through the gateway", fmt.Errorf("gateway: invalid request: endorse: rpc error: message: invalid request: serials[3]: too long"),
			422, api.ProbInvalidField, "serials[3]"},
		{"validation without a field", trace.Invalid("", "bad"), 422, api.ProbInvalidField, ""},
		{"wrapped echo 413", fmt.Errorf("read body: %w", echo.NewHTTPError(http.StatusRequestEntityTooLarge)), 413, api.ProbTooLarge, ""},
		{"wrapped echo 404", fmt.Errorf("x: %w", echo.ErrNotFound), 404, api.ProbNotFound, ""},
		{"max bytes", fmt.Errorf("decode: %w", &http.MaxBytesError{Limit: 10}), 413, api.ProbTooLarge, ""},
		{"access denied", fmt.Errorf("gateway: %w", trace.Denied("right lot.recall")), 403, api.ProbAccessDenied, ""},
		{"not found", trace.NotFound("lot X"), 404, api.ProbNotFound, ""},
		{"conflict", trace.Conflict("already exists"), 409, api.ProbConflict, ""},
		{"unavailable", fmt.Errorf("submit: %w", api.ErrUnavailable), 503, api.ProbUnavailable, ""},
		{"outcome unknown", fmt.Errorf("submit: %w: %w", api.ErrOutcomeUnknown, api.ErrUnavailable), 503, api.ProbOutcomeUnknown, ""},
		{"deadline", fmt.Errorf("evaluate: %w", context.DeadlineExceeded), 504, api.ProbTimeout, ""},
		{"token", auth.ErrInvalidToken, 401, api.ProbUnauthorized, ""},
		{"upload rows", &commission.ValidationError{Rows: []commission.RowError{{Row: 7, Message: "bad"}}, Total: 1}, 422, api.ProbInvalidUpload, "body"},
		{"too many serials", fmt.Errorf("%w: more than 10", commission.ErrTooMany), 413, api.ProbTooLarge, ""},
		{"our own problem", api.NewProblem(api.ProbRateLimited, "slow down"), 429, api.ProbRateLimited, ""},
		{"anything else", errors.New("database is on fire"), 500, api.ProbInternal, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := api.ProblemFor(tc.err)
			if p.Status != tc.status || p.Type != api.ProblemBase+tc.kind || p.Field != tc.field || p.Title == "" {
				t.Errorf("got %d %s field=%q title=%q, want %d %s field=%q", p.Status, p.Type, p.Field, p.Title, tc.status, tc.kind, tc.field)
			}
			if tc.kind == api.ProbInternal && p.Detail != "internal error" {
				t.Errorf("internal error leaks its cause: %q", p.Detail)
			}
		})
	}
	p := api.ProblemFor(&commission.ValidationError{Rows: []commission.RowError{{Row: 7344, Message: "x"}, {Row: 9000, Message: "y"}}, Total: 2})
	if p.Row != 7344 || len(p.Rows) != 2 || p.BadRows != 2 {
		t.Errorf("upload problem rows: %+v", p)
	}
}

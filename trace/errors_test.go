package trace

import (
	"errors"
	"testing"
)

func TestFieldErrorKeepsTheMessageAndTheClass(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{Invalid("serials[3]", "%q is not GS1 character set 82", "AB\x01"), `invalid request: serials[3]: "AB\x01" is not GS1 character set 82`},
		{Invalid("", "the argument is empty"), "invalid request: the argument is empty"},
		{field("to.gln", errors.New("check digit")), "invalid request: to.gln: check digit"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
		var fe *FieldError
		if !errors.Is(tt.err, ErrInvalidRequest) || !errors.As(tt.err, &fe) || ClassifyError(tt.err) != ErrInvalidRequest {
			t.Errorf("%v: not an ErrInvalidRequest *FieldError", tt.err)
		}
	}
	if Denied("x").Error() != "access denied: x" || NotFound("y").Error() != "not found: y" || Conflict("z").Error() != "conflict: z" {
		t.Error("Denied/NotFound/Conflict messages changed")
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name      string
		msg       string
		class     error
		field     string // for ErrInvalidRequest
		text      string // Error() of the result
		wantField bool
	}{
		{name: "chaincode message", msg: "invalid request: packs[0]: 04012345123456/S1 is also in SSCC 340123450000000017",
			class: ErrInvalidRequest, field: "packs[0]", text: "invalid request: packs[0]: 04012345123456/S1 is also in SSCC 340123450000000017", wantField: true},
		{name: "gateway detail", msg: "chaincode response 500, invalid request: packs[2].serial: empty",
			class: ErrInvalidRequest, field: "packs[2].serial", text: "invalid request: packs[2].serial: empty", wantField: true},
		{name: "no field", msg: "rpc error: code = Unknown desc = chaincode response 500, invalid request: unexpected data after the JSON object",
			class: ErrInvalidRequest, text: "invalid request: unexpected data after the JSON object", wantField: true},
		{name: "not a field path", msg: "invalid request: cannot unmarshal string into Go struct field x of type int",
			class: ErrInvalidRequest, text: "invalid request: cannot unmarshal string into Go struct field x of type int", wantField: true},
		{name: "quoted in a protobuf dump", msg: `details: message:"access denied: role \"pharmacist\" may not do \\ this" address:"peer0"`,
			class: ErrAccessDenied, text: `access denied: role "pharmacist" may not do \ this`},
		{name: "not found", msg: "not found: product 04012345123459", class: ErrNotFound, text: "not found: product 04012345123459"},
		{name: "conflict", msg: "evaluate: conflict: request ID reused", class: ErrConflict, text: "conflict: request ID reused"},
		{name: "earliest class wins", msg: "conflict: lot exists; invalid request: x: y", class: ErrConflict, text: "conflict: lot exists; invalid request: x: y"},
		{name: "no class", msg: "failed to execute transaction: timeout expired", class: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseError(tt.msg)
			if tt.class == nil {
				if err != nil {
					t.Fatalf("ParseError = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.class) || ClassifyError(err) != tt.class {
				t.Fatalf("ParseError = %v, want class %v", err, tt.class)
			}
			if err.Error() != tt.text {
				t.Errorf("Error() = %q, want %q", err.Error(), tt.text)
			}
			var fe *FieldError
			if errors.As(err, &fe) != tt.wantField {
				t.Fatalf("errors.As FieldError = %v, want %v", !tt.wantField, tt.wantField)
			}
			if fe != nil && fe.Field != tt.field {
				t.Errorf("Field = %q, want %q", fe.Field, tt.field)
			}
		})
	}
}

// FuzzParseError: whatever the message, a parsed error keeps its class and
// re-parses to itself, and an error built by Invalid survives the trip.
func FuzzParseError(f *testing.F) {
	f.Add("invalid request: packs[0]: is also in SSCC", "serials[3]", "bad")
	f.Add(`x message:"access denied: \"a\"" y`, "", "")
	f.Add("chaincode response 500, not found: lot", "a.b[1][2].c", "x: y")
	f.Fuzz(func(t *testing.T, msg, fld, text string) {
		if err := ParseError(msg); err != nil {
			again := ParseError(err.Error())
			if again == nil || again.Error() != err.Error() || ClassifyError(again) != ClassifyError(err) {
				t.Fatalf("ParseError(%q) = %q, re-parsed %v", msg, err, again)
			}
		}
		orig := Invalid(fld, "%s", text)
		got := ParseError("chaincode response 500, " + orig.Error())
		var fe *FieldError
		if !errors.As(got, &fe) || got.Error() != orig.Error() {
			t.Fatalf("Invalid(%q, %q): parsed %v", fld, text, got)
		}
	})
}

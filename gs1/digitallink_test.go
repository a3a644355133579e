package gs1

import "testing"

func TestEscapeDigitalLinkValue(t *testing.T) {
	for in, want := range map[string]string{"AB-1._~z": "AB-1._~z", "A/B'1": "A%2FB%271", "x y%": "x%20y%25"} {
		if got := EscapeDigitalLinkValue(in); got != want {
			t.Errorf("EscapeDigitalLinkValue(%q) = %q, want %q", in, got, want)
		}
	}
}

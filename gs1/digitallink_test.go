package gs1

import "testing"

func TestEscapeDigitalLinkValue(t *testing.T) {
	for in, want := range map[string]string{
		"AB-1._~z": "AB-1._~z",
		"A/B'1":    "A%2FB'1",
		"x y%":     "x%20y%25",
		// Sub-delimiters stay, as in the EPCIS event hash reference
		// implementation; the other GS1 character set 82 symbols are
		// escaped.
		"!'()*":         "!'()*",
		"\"%&+,/:;<=>?": "%22%25%26%2B%2C%2F%3A%3B%3C%3D%3E%3F",
		"6789/&%\"!?()": "6789%2F%26%25%22!%3F()",
	} {
		if got := EscapeDigitalLinkValue(in); got != want {
			t.Errorf("EscapeDigitalLinkValue(%q) = %q, want %q", in, got, want)
		}
		// Whatever the escaping, the parser reads the value back.
		sc, err := ParseDigitalLink("https://id.gs1.org/01/09506000134352/21/" + EscapeDigitalLinkValue(in))
		if len(in) <= 20 && InCharset(in, CSet82) && (err != nil || sc.Serial != in) {
			t.Errorf("round trip of %q: %q, %v", in, sc.Serial, err)
		}
	}
}

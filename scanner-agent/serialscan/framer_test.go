package serialscan

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// step is one input to the framer: bytes, or a timeout ("<T>") or abort
// ("<A>").
type step = string

func runFramer(f *Framer, steps []step) []string {
	var res []Result
	for _, s := range steps {
		switch s {
		case "<T>":
			res = f.Timeout(res)
		case "<A>":
			res = f.Abort(res)
		default:
			res = f.Feed([]byte(s), res)
		}
	}
	out := make([]string, len(res))
	for i, r := range res {
		if r.Reject != nil {
			out[i] = "!" + string(r.Reject.Reason)
		} else {
			out[i] = fmt.Sprintf("%q/%s", r.Frame, r.End)
		}
	}
	return out
}

func TestFramer(t *testing.T) {
	cr := FramerConfig{Suffix: []byte("\r"), MaxFrame: 16}
	crlf := FramerConfig{Suffix: []byte("\r\n"), MaxFrame: 16}
	none := FramerConfig{MaxFrame: 16}
	tests := []struct {
		name  string
		cfg   FramerConfig
		steps []step
		want  []string
	}{
		{"one frame", cr, []step{"abc\r"}, []string{`"abc"/suffix`}},
		{"two frames one read", cr, []step{"abc\rdef\r"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"split across reads", cr, []step{"a", "b", "c\rd", "ef", "\r"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"no suffix yet", cr, []step{"abc"}, []string{}},
		{"GS kept", cr, []step{"]d2010\x1d21X\r"}, []string{`"]d2010\x1d21X"/suffix`}},
		{"empty frames ignored", cr, []step{"\r\r\rabc\r\r"}, []string{`"abc"/suffix`}},
		{"CRLF on CR line", cr, []step{"abc\r\ndef\r\n"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"LF suffix", FramerConfig{Suffix: []byte("\n")}, []step{"abc\ndef\n"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"TAB suffix", FramerConfig{Suffix: []byte("\t")}, []step{"abc\t\tdef\t"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"CRLF", crlf, []step{"abc\r\ndef\r\n"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"CRLF split between CR and LF", crlf, []step{"abc\r", "\ndef\r", "\n"}, []string{`"abc"/suffix`, `"def"/suffix`}},
		{"CRLF lone CR is data", crlf, []step{"ab\rc\r\n"}, []string{"!control_byte"}},
		{"CRLF CR then silence", crlf, []step{"abc\r", "<T>"}, []string{"!truncated"}},
		{"timeout with suffix truncates", cr, []step{"abc", "<T>", "def\r"}, []string{"!truncated", `"def"/suffix`}},
		{"timeout when idle", cr, []step{"<T>", "<T>"}, []string{}},
		{"no suffix: timeout ends", none, []step{"ab", "c", "<T>", "def", "<T>"}, []string{`"abc"/timeout`, `"def"/timeout`}},
		{"no suffix: CR trimmed", none, []step{"abc\r\n", "<T>"}, []string{`"abc"/timeout`}},
		{"no suffix: CR inside is garbage", none, []step{"ab\rc", "<T>"}, []string{"!control_byte"}},
		{"max frame exactly", cr, []step{strings.Repeat("x", 16) + "\r"}, []string{`"xxxxxxxxxxxxxxxx"/suffix`}},
		{"overlong drained to suffix", cr, []step{strings.Repeat("x", 17), strings.Repeat("y", 1000), "\rok\r"}, []string{"!overlong", `"ok"/suffix`}},
		{"overlong ended by timeout", cr, []step{strings.Repeat("x", 40), "<T>", "ok\r"}, []string{"!overlong", `"ok"/suffix`}},
		{"overlong no suffix", none, []step{strings.Repeat("x", 40), "<T>", "ok", "<T>"}, []string{"!overlong", `"ok"/timeout`}},
		{"overlong CRLF", crlf, []step{strings.Repeat("x", 20) + "\r", "\nok\r\n"}, []string{"!overlong", `"ok"/suffix`}},
		{"control byte", cr, []step{"ab\x07c\r"}, []string{"!control_byte"}},
		{"NUL", cr, []step{"\x00\x00\x00\r"}, []string{"!control_byte"}},
		{"DEL", cr, []step{"ab\x7f\r"}, []string{"!control_byte"}},
		{"ESC sequence", cr, []step{"\x1b[Aabc\r"}, []string{"!control_byte"}},
		{"invalid UTF-8", cr, []step{"ab\xffc\r"}, []string{"!invalid_utf8"}},
		{"valid UTF-8 passes", cr, []step{"é&\"'(\r"}, []string{`"é&\"'("/suffix`}},
		{"UTF-8 split across reads", cr, []step{"\xc3", "\xa9\r"}, []string{`"é"/suffix`}},
		{"garbage then good", cr, []step{"\x01\x02\r", "good\r"}, []string{"!control_byte", `"good"/suffix`}},
		{"GS substitute", FramerConfig{Suffix: []byte("\r"), GSSubstitute: '~'}, []step{"10AB~21X\r"}, []string{`"10AB\x1d21X"/suffix`}},
		{"control substitute", FramerConfig{Suffix: []byte("\r"), GSSubstitute: 0x1c}, []step{"10AB\x1c21X\r"}, []string{`"10AB\x1d21X"/suffix`}},
		{"abort mid-frame", cr, []step{"abc", "<A>", "def\r"}, []string{"!truncated", `"def"/suffix`}},
		{"abort idle", cr, []step{"abc\r", "<A>"}, []string{`"abc"/suffix`}},
		{"abort overlong", cr, []step{strings.Repeat("x", 40), "<A>"}, []string{"!overlong"}},
		{"default max frame", FramerConfig{Suffix: []byte("\r")}, []step{strings.Repeat("x", 512) + "\r" + strings.Repeat("x", 513) + "\r"}, []string{`"` + strings.Repeat("x", 512) + `"/suffix`, "!overlong"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runFramer(NewFramer(tt.cfg), tt.steps)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("got  %v\nwant %v", got, tt.want)
			}
		})
	}
}

func TestRejectionDetail(t *testing.T) {
	f := NewFramer(FramerConfig{Suffix: []byte("\r"), MaxFrame: 8})
	res := f.Feed([]byte("ab\x07\rab\xfe\r123456789\r"), nil)
	if len(res) != 3 {
		t.Fatalf("got %d results", len(res))
	}
	for i, want := range []string{
		`frame rejected (control_byte): byte 0x07 at offset 2; 3 bytes: "ab\a"`,
		`frame rejected (invalid_utf8): invalid UTF-8 at offset 2; 3 bytes: "ab\xfe"`,
		`frame rejected (overlong): longer than 8 bytes; 9 bytes: "12345678"`,
	} {
		if res[i].Reject == nil || res[i].Reject.Error() != want {
			t.Errorf("result %d = %+v, want %s", i, res[i].Reject, want)
		}
	}
}

// TestFramerSplitEquivalence feeds the same stream whole and in random
// chunks and wants the same frames.
func TestFramerSplitEquivalence(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var stream bytes.Buffer
	for i := range 500 {
		switch rng.IntN(10) {
		case 0:
			stream.WriteString("\x01garbage\x02\r\n")
		case 1:
			stream.WriteString(strings.Repeat("L", 600) + "\r\n")
		default:
			fmt.Fprintf(&stream, "]d201095011010209171725123110LOT%d\x1d21SN%06d\r\n", i, i)
		}
	}
	for _, suffix := range []string{"\r", "\r\n"} {
		cfg := FramerConfig{Suffix: []byte(suffix)}
		whole := NewFramer(cfg).Feed(stream.Bytes(), nil)
		f := NewFramer(cfg)
		var split []Result
		for b := stream.Bytes(); len(b) > 0; {
			n := min(len(b), 1+rng.IntN(7))
			split = f.Feed(b[:n], split)
			b = b[n:]
		}
		if len(whole) != 500 || len(split) != 500 {
			t.Fatalf("suffix %q: %d whole, %d split results", suffix, len(whole), len(split))
		}
		for i := range whole {
			if !bytes.Equal(whole[i].Frame, split[i].Frame) || (whole[i].Reject == nil) != (split[i].Reject == nil) {
				t.Fatalf("suffix %q: result %d differs: %+v vs %+v", suffix, i, whole[i], split[i])
			}
		}
	}
}

// FuzzFramer checks that arbitrary input never panics and that accepted
// frames obey the rules.
func FuzzFramer(f *testing.F) {
	f.Add([]byte("abc\r\x1d\r\n\xff"), uint8(0), uint8(3))
	f.Add([]byte(strings.Repeat("x", 40)+"\r"), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, suffixKind, chunk uint8) {
		suffixes := [][]byte{[]byte("\r"), []byte("\r\n"), nil, []byte("\t")}
		fr := NewFramer(FramerConfig{Suffix: suffixes[int(suffixKind)%len(suffixes)], MaxFrame: 16, GSSubstitute: '~'})
		step := int(chunk%8) + 1
		var res []Result
		for len(data) > 0 {
			n := min(step, len(data))
			res = fr.Feed(data[:n], res)
			data = data[n:]
		}
		res = fr.Timeout(res)
		res = fr.Abort(res)
		for _, r := range res {
			if r.Reject != nil {
				continue
			}
			if len(r.Frame) == 0 || len(r.Frame) > 16 {
				t.Fatalf("frame of %d bytes", len(r.Frame))
			}
			for _, b := range r.Frame {
				if (b < 0x20 && b != GS) || b == 0x7f || b == '~' {
					t.Fatalf("frame %q has byte %#x", r.Frame, b)
				}
			}
		}
	})
}

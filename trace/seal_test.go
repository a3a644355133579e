package trace

import (
	"bytes"
	"strings"
	"testing"
)

func TestSealedResultRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	plain := []byte(`{"outcome":{"status":"ok"},"pack":{"serial":"SECRET123"}}`)
	s1, err := SealResult(key, "tx1", plain)
	if err != nil {
		t.Fatal(err)
	}
	// Endorsers must agree byte for byte; no trace of the plaintext.
	if s2, _ := SealResult(key, "tx1", plain); s2 != s1 || strings.Contains(s1, "SECRET123") || !IsSealed([]byte(s1)) {
		t.Fatalf("%s / %s", s1, s2)
	}
	got, err := OpenResult(key, "tx1", []byte(s1))
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("%s %v", got, err)
	}
	if _, err := OpenResult(key, "tx2", []byte(s1)); err == nil {
		t.Fatal("opened under another transaction ID")
	}
	if _, err := OpenResult(bytes.Repeat([]byte{8}, 32), "tx1", []byte(s1)); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := SealResult(key[:16], "tx1", plain); err == nil {
		t.Fatal("sealed with a 16-byte key")
	}
}

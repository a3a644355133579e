package outbox

import (
	"io"
	"sync"
	"time"
)

// crockford is the ULID alphabet (Crockford's base32).
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// idSource makes ULIDs: 48 bits of Unix milliseconds and 80 random bits,
// 26 characters, lexically ordered by time.
type idSource struct {
	mu   sync.Mutex
	rand io.Reader
}

func (s *idSource) next(t time.Time) (string, error) {
	var b [16]byte
	ms := uint64(t.UnixMilli())
	for i := 5; i >= 0; i-- {
		b[i] = byte(ms)
		ms >>= 8
	}
	s.mu.Lock()
	_, err := io.ReadFull(s.rand, b[6:])
	s.mu.Unlock()
	if err != nil {
		return "", err
	}
	return encodeULID(b), nil
}

// encodeULID encodes 128 bits as 26 base32 characters (the first carries
// only 3 bits).
func encodeULID(b [16]byte) string {
	var out [26]byte
	// Treat b as a 128-bit big-endian number; emit 5 bits at a time from
	// the least significant end.
	hi := uint64(b[0])<<56 | uint64(b[1])<<48 | uint64(b[2])<<40 | uint64(b[3])<<32 |
		uint64(b[4])<<24 | uint64(b[5])<<16 | uint64(b[6])<<8 | uint64(b[7])
	lo := uint64(b[8])<<56 | uint64(b[9])<<48 | uint64(b[10])<<40 | uint64(b[11])<<32 |
		uint64(b[12])<<24 | uint64(b[13])<<16 | uint64(b[14])<<8 | uint64(b[15])
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(out[:])
}

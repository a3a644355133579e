package trace

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// Sealed results. A write transaction's result (the chaincode response
// payload) is part of the transaction every peer keeps in its blocks, and
// the result of a routed write names serials (a dispensed pack's status, a
// shipment's packs). So a routed write that works in a collection returns
// its result sealed: AES-256-GCM under a key the client draws per call and
// sends as transient data (TransientResultKey), with the nonce derived from
// the transaction ID, so every endorser produces the same bytes and the
// endorsements match. Only the client, and the endorsers that saw the
// transient map, can open it.

// TransientResultKey is the transient-map key of the 32-byte key a routed
// write's result is sealed with.
const TransientResultKey = "resultKey"

// ResultKeySize is the size of a result key (AES-256).
const ResultKeySize = 32

const sealedPrefix = "sealed:"

func resultAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != ResultKeySize {
		return nil, fmt.Errorf("result key is %d bytes, want %d", len(key), ResultKeySize)
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

func resultNonce(txID string, n int) []byte {
	sum := sha256.Sum256([]byte("pharmatrace result\x00" + txID))
	return sum[:n]
}

// SealResult seals a result for transaction txID.
func SealResult(key []byte, txID string, plain []byte) (string, error) {
	a, err := resultAEAD(key)
	if err != nil {
		return "", err
	}
	ct := a.Seal(nil, resultNonce(txID, a.NonceSize()), plain, []byte(txID))
	return sealedPrefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// IsSealed reports whether a result is sealed.
func IsSealed(result []byte) bool { return strings.HasPrefix(string(result), sealedPrefix) }

// OpenResult opens a sealed result of transaction txID.
func OpenResult(key []byte, txID string, sealed []byte) ([]byte, error) {
	rest, ok := strings.CutPrefix(string(sealed), sealedPrefix)
	if !ok {
		return nil, errors.New("result is not sealed")
	}
	ct, err := base64.RawStdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("sealed result: %w", err)
	}
	a, err := resultAEAD(key)
	if err != nil {
		return nil, err
	}
	plain, err := a.Open(nil, resultNonce(txID, a.NonceSize()), ct, []byte(txID))
	if err != nil {
		return nil, fmt.Errorf("sealed result of %s: %w", txID, err)
	}
	return plain, nil
}

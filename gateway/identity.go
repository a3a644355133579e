package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// ErrIdentity is matched by errors loading or enrolling the client identity.
var ErrIdentity = errors.New("gateway: identity")

// signer is the client identity and its signing function.
type signer struct {
	id   identity.Identity
	sign identity.Sign
}

// creator is the serialized identity Fabric puts in requests.
func (s *signer) creator() ([]byte, error) {
	return proto.Marshal(&msp.SerializedIdentity{Mspid: s.id.MspID(), IdBytes: s.id.Credentials()})
}

// LoadIdentity loads the identity described by id and returns it with its
// signing function, ready for fabric-gateway.
func LoadIdentity(ctx context.Context, id Identity) (identity.Identity, identity.Sign, error) {
	s, err := loadSigner(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	return s.id, s.sign, nil
}

func loadSigner(ctx context.Context, id Identity) (*signer, error) {
	if err := id.validate("Identity"); err != nil {
		return nil, err
	}
	var certPEM, keyPEM []byte
	var err error
	switch {
	case id.CertFile != "":
		if certPEM, err = os.ReadFile(id.CertFile); err != nil {
			return nil, fmt.Errorf("%w: read certificate: %w", ErrIdentity, err)
		}
		if keyPEM, err = os.ReadFile(id.KeyFile); err != nil {
			return nil, fmt.Errorf("%w: read private key: %w", ErrIdentity, err)
		}
	case id.MSPDir != "":
		if certPEM, keyPEM, err = readMSPDir(id.MSPDir); err != nil {
			return nil, err
		}
	}
	return newSigner(id.MSPID, certPEM, keyPEM)
}

func newSigner(mspID string, certPEM, keyPEM []byte) (*signer, error) {
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("%w: parse certificate: %w", ErrIdentity, err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if _, ok := key.(*ecdsa.PrivateKey); !ok {
		return nil, fmt.Errorf("%w: Fabric 2.5 identities use ECDSA keys, got %T", ErrIdentity, key)
	}
	if !keyMatchesCert(key, cert) {
		return nil, fmt.Errorf("%w: private key does not match the certificate", ErrIdentity)
	}
	id, err := identity.NewX509Identity(mspID, cert)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	return &signer{id: id, sign: sign}, nil
}

// parsePrivateKey accepts PKCS#8 ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY")
// and PKCS#1 ("RSA PRIVATE KEY") PEM, skipping "EC PARAMETERS" blocks.
func parsePrivateKey(keyPEM []byte) (crypto.PrivateKey, error) {
	rest := keyPEM
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("%w: no private key PEM block found", ErrIdentity)
		}
		switch block.Type {
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parse PKCS#8 private key: %w", ErrIdentity, err)
			}
			return k, nil
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parse EC private key: %w", ErrIdentity, err)
			}
			return k, nil
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%w: parse RSA private key: %w", ErrIdentity, err)
			}
			return k, nil
		}
	}
}

func keyMatchesCert(key crypto.PrivateKey, cert *x509.Certificate) bool {
	type publicKeyer interface {
		Public() crypto.PublicKey
		Equal(x crypto.PrivateKey) bool
	}
	k, ok := key.(publicKeyer)
	if !ok {
		return false
	}
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	pub, ok := k.Public().(equaler)
	return ok && pub.Equal(cert.PublicKey)
}

// readMSPDir reads signcerts/*.pem (the single certificate) and keystore/*
// (the key matching it: Fabric CA names it <ski>_sk, cryptogen priv_sk).
func readMSPDir(dir string) (certPEM, keyPEM []byte, err error) {
	certs, err := filepath.Glob(filepath.Join(dir, "signcerts", "*.pem"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrIdentity, err)
	}
	if len(certs) != 1 {
		return nil, nil, fmt.Errorf("%w: %s: want exactly one signcerts/*.pem, found %d", ErrIdentity, dir, len(certs))
	}
	if certPEM, err = os.ReadFile(certs[0]); err != nil {
		return nil, nil, fmt.Errorf("%w: read certificate: %w", ErrIdentity, err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: parse %s: %w", ErrIdentity, certs[0], err)
	}
	keys, err := os.ReadDir(filepath.Join(dir, "keystore"))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: read keystore: %w", ErrIdentity, err)
	}
	names := make([]string, 0, len(keys))
	for _, k := range keys {
		if k.Type().IsRegular() {
			names = append(names, k.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, "keystore", name))
		if err != nil {
			return nil, nil, fmt.Errorf("%w: read key: %w", ErrIdentity, err)
		}
		key, err := parsePrivateKey(b)
		if err != nil {
			continue // not a key file
		}
		if keyMatchesCert(key, cert) {
			return certPEM, b, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: %s: no key in keystore/ matches signcerts/%s", ErrIdentity, dir, filepath.Base(certs[0]))
}

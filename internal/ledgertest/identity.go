package ledgertest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// attrOID is the Fabric CA attribute extension (attrmgr.AttrOID).
var attrOID = asn1.ObjectIdentifier{1, 2, 3, 4, 5, 6, 7, 8, 1}

// Identity is a client identity as a peer sees it: an MSP ID and an X.509
// enrollment certificate whose Fabric CA attribute extension carries Attrs.
type Identity struct {
	MSP   string
	Name  string
	Attrs map[string]string
	// Creator is the serialized identity (msp.SerializedIdentity) that
	// GetCreator returns.
	Creator []byte
	Cert    *x509.Certificate
}

// NewIdentity creates an identity with a fresh self-signed ECDSA P-256
// certificate carrying attrs in extension 1.2.3.4.5.6.7.8.1 as the Fabric CA
// writes it ({"attrs":{...}}), so that the shim's cid package and
// contractapi's ClientIdentity parse it exactly as on a real network.
// A nil attrs map issues a certificate without the extension.
func NewIdentity(mspID, name string, attrs map[string]string) (*Identity, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name, OrganizationalUnit: []string{"client"}, Organization: []string{mspID}},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if attrs != nil {
		v, err := json.Marshal(struct {
			Attrs map[string]string `json:"attrs"`
		}{attrs})
		if err != nil {
			return nil, fmt.Errorf("marshal attrs: %w", err)
		}
		tmpl.ExtraExtensions = []pkix.Extension{{Id: attrOID, Value: v}}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	creator, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: pemBytes})
	if err != nil {
		return nil, fmt.Errorf("marshal serialized identity: %w", err)
	}
	return &Identity{MSP: mspID, Name: name, Attrs: attrs, Creator: creator, Cert: cert}, nil
}

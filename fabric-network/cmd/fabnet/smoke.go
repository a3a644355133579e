package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
)

// smoke submits a probe transaction through the Fabric Gateway of the first
// org's peer as that org's admin, waits for its commit and reads it back.
func (n *network) smoke(ctx context.Context) (time.Duration, error) {
	o := &n.l.Orgs[0]
	id := n.l.Admin(o)
	node := n.l.PeerNode(o)
	conn, err := dialPeer(node)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	signer, ident, err := loadIdentity(id)
	if err != nil {
		return 0, err
	}
	gw, err := client.Connect(ident, client.WithSign(signer), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(60*time.Second))
	if err != nil {
		return 0, err
	}
	defer gw.Close()
	contract := gw.GetNetwork(n.l.Channel).GetContractWithName(n.l.Chaincode.Name, "probe")
	value := time.Now().UTC().Format(time.RFC3339Nano)
	start := time.Now()
	// The first invocation after a (re)start waits for the peers to connect
	// to their chaincode servers; retry briefly.
	var lastErr error
	for attempt := 0; attempt < 20; attempt++ {
		if _, lastErr = contract.SubmitTransaction("Put", "smoke", value); lastErr == nil {
			break
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if lastErr != nil {
		return 0, fmt.Errorf("smoke submit through %s: %w", node.Address, describe(lastErr))
	}
	took := time.Since(start)
	got, err := contract.EvaluateTransaction("Get", "smoke")
	if err != nil {
		return 0, fmt.Errorf("smoke evaluate: %w", describe(err))
	}
	if string(got) != value {
		return 0, fmt.Errorf("smoke read back %q, wrote %q", got, value)
	}
	return took, nil
}

func dialPeer(node netspec.Node) (*grpc.ClientConn, error) {
	pemBytes, err := os.ReadFile(node.TLSRootPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	return grpc.NewClient(node.Address, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
}

func loadIdentity(id netspec.Identity) (identity.Sign, *identity.X509Identity, error) {
	certPEM, err := os.ReadFile(id.CertFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, err
	}
	ident, err := identity.NewX509Identity(id.MSPID, cert)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(id.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("%s: no PEM key", id.KeyFile)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", id.KeyFile, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	return sign, ident, err
}

// describe adds the per-peer details carried by a gateway error's gRPC status.
func describe(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var msgs []string
	for _, d := range st.Details() {
		if ed, ok := d.(*gateway.ErrorDetail); ok {
			msgs = append(msgs, fmt.Sprintf("%s (%s): %s", ed.GetAddress(), ed.GetMspId(), ed.GetMessage()))
		}
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w [%s]", err, strings.Join(msgs, "; "))
}

// Package fabconn opens raw connections to the nodes of a PharmaTrace
// network described by netspec: Fabric Gateway connections as an enrolled
// identity, and HTTPS to the nodes' operations endpoints (health, metrics).
// It serves network tooling (fabnet) and network-level tests; application
// code talks to the ledger through package gateway.
package fabconn

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	gwproto "github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"gopkg.in/yaml.v3"

	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/scanner-agent/station"
)

// GatewayConfig is the package gateway configuration of user of org: the
// org's own peer first, then every other org's peer for failover.
func GatewayConfig(l *netspec.Layout, org, user string) (gateway.Config, error) {
	id, err := l.User(org, user)
	if err != nil {
		return gateway.Config{}, err
	}
	var own, others []gateway.Endpoint
	for _, p := range l.PeerNodes() {
		ep := gateway.Endpoint{Address: p.Address, TLSRootCertFile: p.TLSRootPEM, MSPID: p.MSPID}
		if p.MSPID == id.MSPID {
			own = append(own, ep)
		} else {
			others = append(others, ep)
		}
	}
	return gateway.Config{
		Endpoints: append(own, others...),
		Identity:  gateway.Identity{MSPID: id.MSPID, CertFile: id.CertFile, KeyFile: id.KeyFile},
		Channel:   l.Channel,
		Chaincode: l.Chaincode.Name,
	}, nil
}

// Dial opens a TLS gRPC connection to a peer, trusting its org's CA.
func Dial(node netspec.Node) (*grpc.ClientConn, error) {
	pool, err := certPool(node.TLSRootPEM)
	if err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(node.Address, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, "")))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", node.Name, err)
	}
	return conn, nil
}

func certPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS root: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("TLS root %s: no PEM certificate", path)
	}
	return pool, nil
}

// LoadIdentity reads an enrolled identity's certificate and PKCS#8 key.
func LoadIdentity(id netspec.Identity) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(id.CertFile)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s: %w", id.Name, err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s: %w", id.Name, err)
	}
	ident, err := identity.NewX509Identity(id.MSPID, cert)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(id.KeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s: %w", id.Name, err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return nil, nil, fmt.Errorf("identity %s: %s holds no PEM key", id.Name, id.KeyFile)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s: %w", id.Name, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("identity %s: %w", id.Name, err)
	}
	return ident, sign, nil
}

// Connect opens a Fabric Gateway connection to node as id. Close the
// returned gateway, then the connection.
func Connect(node netspec.Node, id netspec.Identity) (*client.Gateway, *grpc.ClientConn, error) {
	conn, err := Dial(node)
	if err != nil {
		return nil, nil, err
	}
	ident, sign, err := LoadIdentity(id)
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	gw, err := client.Connect(ident, client.WithSign(sign), client.WithClientConnection(conn),
		client.WithEvaluateTimeout(10*time.Second), client.WithEndorseTimeout(30*time.Second),
		client.WithSubmitTimeout(10*time.Second), client.WithCommitStatusTimeout(60*time.Second))
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	return gw, conn, nil
}

// Describe appends the per-peer details carried by a gateway error's gRPC
// status (which peer said what), keeping err for errors.Is/As.
func Describe(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var msgs []string
	for _, d := range st.Details() {
		if ed, ok := d.(*gwproto.ErrorDetail); ok {
			msgs = append(msgs, fmt.Sprintf("%s (%s): %s", ed.GetAddress(), ed.GetMspId(), ed.GetMessage()))
		}
	}
	if len(msgs) == 0 {
		return err
	}
	return fmt.Errorf("%w [%s]", err, strings.Join(msgs, "; "))
}

// Ops reads a node's operations endpoint. /metrics needs a client
// certificate from the node org's CA; client is that org's admin.
type Ops struct {
	http *http.Client
}

// NewOps returns an operations client trusting caFile and presenting the
// TLS certificate of client.
func NewOps(caFile string, client netspec.Identity) (*Ops, error) {
	pool, err := certPool(caFile)
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(client.TLSCertFile, client.TLSKeyFile)
	if err != nil {
		return nil, fmt.Errorf("operations client certificate: %w", err)
	}
	return &Ops{http: &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
	}}}, nil
}

// Get fetches path (e.g. /healthz, /metrics) from node's operations endpoint.
func (o *Ops) Get(ctx context.Context, node netspec.Node, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+node.OpsAddr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := o.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s %s: %s: %s", node.Name, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return b, nil
}

// Metric returns the value of the first sample of a Prometheus text-format
// metric whose label set contains label (e.g. `channel="pharmatrace"`).
func (o *Ops) Metric(ctx context.Context, node netspec.Node, name, label string) (float64, error) {
	b, err := o.Get(ctx, node, "/metrics")
	if err != nil {
		return 0, err
	}
	v, ok := MetricValue(b, name, label)
	if !ok {
		return 0, fmt.Errorf("%s: no %s{%s} sample", node.Name, name, label)
	}
	return v, nil
}

// MetricValue finds a sample in Prometheus text exposition format.
func MetricValue(b []byte, name, label string) (float64, bool) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, name+"{") || !strings.Contains(line, label) {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		return v, err == nil
	}
	return 0, false
}

// WriteStationConfig writes dir/station.yaml for a dispensing station run
// as user of org: its identity and site from the network, its scanner on
// dir/scanner (a pseudo-terminal link, as `scanner-agent simulate -link`
// keeps it), its outbox in dir/outbox.db, every org's peer for failover,
// and metrics/status on listen ("" for none). It returns the file's path.
func WriteStationConfig(l *netspec.Layout, org, user, stationID, dir, listen string) (string, error) {
	id, err := l.User(org, user)
	if err != nil {
		return "", err
	}
	gc, err := GatewayConfig(l, org, user)
	if err != nil {
		return "", err
	}
	cfg := station.Config{StationID: stationID, GLN: id.GLN, Mode: station.ModeDispense,
		Identity: station.Identity{MSPID: id.MSPID, CertFile: id.CertFile, KeyFile: id.KeyFile},
		Scanners: []station.Scanner{{Name: "counter", Device: filepath.Join(dir, "scanner"), Suffix: "CR"}},
		Queue:    station.Queue{Path: filepath.Join(dir, "outbox.db")},
		Ledger:   station.Ledger{Channel: l.Channel, Chaincode: l.Chaincode.Name},
		Metrics:  station.Metrics{Listen: listen}}
	for _, ep := range gc.Endpoints {
		cfg.Ledger.Peers = append(cfg.Ledger.Peers, station.Peer{Endpoint: ep.Address, TLSRootCertFile: ep.TLSRootCertFile, MSPID: ep.MSPID})
	}
	y, err := yaml.Marshal(&cfg)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "station.yaml")
	return path, os.WriteFile(path, y, 0o644)
}

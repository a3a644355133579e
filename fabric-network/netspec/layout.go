package netspec

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Layout places a network definition on disk under a run directory.
type Layout struct {
	*Spec
	// Dir is the absolute run directory (git-ignored): state, logs, PIDs.
	Dir string
}

// NewLayout returns the layout of s under runDir.
func NewLayout(s *Spec, runDir string) (*Layout, error) {
	abs, err := filepath.Abs(runDir)
	if err != nil {
		return nil, fmt.Errorf("run directory: %w", err)
	}
	return &Layout{Spec: s, Dir: abs}, nil
}

// OrdererOrgKey is the directory key of the orderer organisation.
const OrdererOrgKey = "orderer"

// Key is an org's directory and node-name key: its lower-case name.
func (o *Org) Key() string { return strings.ToLower(o.Name) }

// Addr joins the network host and a port.
func (l *Layout) Addr(port int) string { return net.JoinHostPort(l.Host, strconv.Itoa(port)) }

// OrgDir is where an org's CA, MSP and identities live.
func (l *Layout) OrgDir(orgKey string) string { return filepath.Join(l.Dir, "orgs", orgKey) }

// CAHome is the org CA server's home directory.
func (l *Layout) CAHome(orgKey string) string { return filepath.Join(l.OrgDir(orgKey), "ca") }

// CACert is the org's root CA certificate. The same CA issues the org's
// enrollment and TLS certificates, so it is also the org's TLS root.
func (l *Layout) CACert(orgKey string) string { return filepath.Join(l.CAHome(orgKey), "ca-cert.pem") }

// CAURL is the org CA's HTTPS endpoint.
func (l *Layout) CAURL(port int) string { return "https://" + l.Addr(port) }

// OrgMSPDir is the org's channel MSP (CA certs + NodeOU config).
func (l *Layout) OrgMSPDir(orgKey string) string { return filepath.Join(l.OrgDir(orgKey), "msp") }

// Identity is an enrolled identity's files.
type Identity struct {
	Org   string `json:"org"`
	MSPID string `json:"mspID"`
	Name  string `json:"name"`
	Role  string `json:"role,omitempty"`
	GLN   string `json:"gln,omitempty"`
	GCP   string `json:"gcp,omitempty"`
	// MSPDir holds signcerts/cert.pem, keystore/key.pem, cacerts/ca.pem, config.yaml.
	MSPDir   string `json:"mspDir"`
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
	// TLSCertFile and TLSKeyFile exist for nodes (server + client TLS).
	TLSCertFile string `json:"tlsCertFile,omitempty"`
	TLSKeyFile  string `json:"tlsKeyFile,omitempty"`
}

// IdentityFiles returns where identity name of org orgKey is stored.
func (l *Layout) IdentityFiles(orgKey, mspID, name string) Identity {
	d := filepath.Join(l.OrgDir(orgKey), "identities", name)
	msp := filepath.Join(d, "msp")
	return Identity{
		Org: orgKey, MSPID: mspID, Name: name, MSPDir: msp,
		CertFile:    filepath.Join(msp, "signcerts", "cert.pem"),
		KeyFile:     filepath.Join(msp, "keystore", "key.pem"),
		TLSCertFile: filepath.Join(d, "tls", "cert.pem"),
		TLSKeyFile:  filepath.Join(d, "tls", "key.pem"),
	}
}

// User returns the files and attributes of a user of a peer org.
func (l *Layout) User(orgNameOrMSP, user string) (Identity, error) {
	o, ok := l.Org(orgNameOrMSP)
	if !ok {
		return Identity{}, fmt.Errorf("no org %q in the network definition", orgNameOrMSP)
	}
	for _, u := range o.Users {
		if u.Name == user {
			id := l.IdentityFiles(o.Key(), o.MSPID, u.Name)
			id.Role, id.GLN, id.GCP = u.Role, u.GLN, u.GCP
			id.TLSCertFile, id.TLSKeyFile = "", ""
			return id, nil
		}
	}
	return Identity{}, fmt.Errorf("org %s has no user %q", o.Name, user)
}

// Admin returns the first admin user of a peer org.
func (l *Layout) Admin(o *Org) Identity {
	for _, u := range o.Users {
		if u.Role == "admin" {
			id, _ := l.User(o.MSPID, u.Name)
			return id
		}
	}
	panic("netspec: validated org without admin") // Validate guarantees an admin
}

// Node is one process of the network.
type Node struct {
	// Name is unique in the network: "ca.pharmacy", "orderer1",
	// "peer0.pharmacy", "cc.pharmacy".
	Name       string `json:"name"`
	Kind       string `json:"kind"` // ca | orderer | peer | chaincode
	Org        string `json:"org"`
	MSPID      string `json:"mspID"`
	Address    string `json:"address"`
	AdminAddr  string `json:"adminAddress,omitempty"`
	OpsAddr    string `json:"operationsAddress,omitempty"`
	TLSRootPEM string `json:"tlsRootCert"`
	PIDFile    string `json:"pidFile"`
	LogFile    string `json:"logFile"`
	DataDir    string `json:"dataDir"`
}

func (l *Layout) node(name, kind, orgKey, msp string, port int) Node {
	return Node{
		Name: name, Kind: kind, Org: orgKey, MSPID: msp, Address: l.Addr(port),
		TLSRootPEM: l.CACert(orgKey),
		PIDFile:    filepath.Join(l.Dir, "pids", name+".pid"),
		LogFile:    filepath.Join(l.Dir, "logs", name+".log"),
		DataDir:    filepath.Join(l.Dir, "data", name),
	}
}

// CANodes returns every org's CA server, the orderer org's first.
func (l *Layout) CANodes() []Node {
	n := l.node("ca."+OrdererOrgKey, "ca", OrdererOrgKey, l.OrdererOrg.MSPID, l.OrdererOrg.CA.Port)
	n.OpsAddr = l.Addr(l.OrdererOrg.CA.OpsPort)
	out := []Node{n}
	for _, o := range l.Orgs {
		n := l.node("ca."+o.Key(), "ca", o.Key(), o.MSPID, o.CA.Port)
		n.OpsAddr = l.Addr(o.CA.OpsPort)
		out = append(out, n)
	}
	return out
}

// OrdererNodes returns the etcdraft orderers.
func (l *Layout) OrdererNodes() []Node {
	var out []Node
	for _, o := range l.OrdererOrg.Orderers {
		n := l.node(o.Name, "orderer", OrdererOrgKey, l.OrdererOrg.MSPID, o.Port)
		n.AdminAddr, n.OpsAddr = l.Addr(o.AdminPort), l.Addr(o.OpsPort)
		out = append(out, n)
	}
	return out
}

// PeerNode returns an org's peer.
func (l *Layout) PeerNode(o *Org) Node {
	n := l.node(o.Peer.Name+"."+o.Key(), "peer", o.Key(), o.MSPID, o.Peer.Port)
	n.OpsAddr = l.Addr(o.Peer.OpsPort)
	return n
}

// PeerNodes returns every org's peer, in definition order.
func (l *Layout) PeerNodes() []Node {
	var out []Node
	for i := range l.Orgs {
		out = append(out, l.PeerNode(&l.Orgs[i]))
	}
	return out
}

// ChaincodeNode returns an org's chaincode-as-a-service process.
func (l *Layout) ChaincodeNode(o *Org) Node {
	return l.node("cc."+o.Key(), "chaincode", o.Key(), o.MSPID, o.ChaincodeServerPort)
}

// AppNodes returns the PharmaTrace processes started beside the network:
// the API and the demo scanner station (and its simulated scanner).
func (l *Layout) AppNodes() []Node {
	api := l.node("api", "app", "", "", l.Apps.APIPort)
	station := l.node("station", "app", "", "", l.Apps.StationPort)
	return []Node{api, station}
}

// MonitorNodes returns the processes `make monitor` starts beside the
// network: Prometheus and the certificate expiry exporter. They are not
// among Nodes: the network runs (and is "up") without them.
func (l *Layout) MonitorNodes() []Node {
	prom := l.node("prometheus", "monitor", "", "", l.Monitoring.PrometheusPort)
	certs := l.node("certexporter", "monitor", "", "", l.Monitoring.CertExporterPort)
	return []Node{prom, certs}
}

// MonitorDir holds the generated Prometheus configuration (its time
// series live in the prometheus node's DataDir).
func (l *Layout) MonitorDir() string { return filepath.Join(l.Dir, "monitor") }

// Nodes returns every process in start order.
func (l *Layout) Nodes() []Node {
	out := append(l.CANodes(), l.OrdererNodes()...)
	out = append(out, l.PeerNodes()...)
	for i := range l.Orgs {
		out = append(out, l.ChaincodeNode(&l.Orgs[i]))
	}
	return append(out, l.AppNodes()...)
}

// NodeByName finds a process, a monitoring one included, by its unique name.
func (l *Layout) NodeByName(name string) (Node, bool) {
	for _, n := range append(l.Nodes(), l.MonitorNodes()...) {
		if n.Name == name {
			return n, true
		}
	}
	return Node{}, false
}

// OrgAdmin returns the admin identity of any org, the orderer org included
// (with its TLS client certificate, used for admin and operations endpoints).
func (l *Layout) OrgAdmin(orgKey string) Identity {
	if o, ok := l.Org(orgKey); ok {
		a := l.Admin(o)
		return l.IdentityFiles(orgKey, o.MSPID, a.Name)
	}
	return l.IdentityFiles(OrdererOrgKey, l.OrdererOrg.MSPID, l.OrdererOrg.Admin.Name)
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/fabric-network/fabconn"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/gateway"
	"github.com/pharmatrace/pharmatrace/gs1"
	"github.com/pharmatrace/pharmatrace/trace"
)

// The demo the apps are started with: users with API tokens, and a lot
// of packs at the demo station's pharmacy whose codes a simulated scanner
// can type.
var tokenUsers = []string{"Regulator/inspector", "Manufacturer/mfr-alpha", "Distributor/wh-north", "Pharmacy/pharm-central"}

const demoPacks = 20

func (n *network) appDir(name string) string { return filepath.Join(n.l.Dir, name) }

func httpReady(url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", url, resp.Status)
		}
		return nil
	}
}

func (n *network) apiEnv() []string {
	return []string{
		"PHARMATRACE_API_ADDR=" + n.l.Addr(n.l.Apps.APIPort),
		"PHARMATRACE_API_DB=" + filepath.Join(n.appDir("api"), "readmodel.db"),
		"PHARMATRACE_RUN_DIR=" + n.l.Dir,
		// The definition as this network runs it: ports already shifted,
		// so an offset fabnet was called with must not apply twice.
		"PHARMATRACE_NETWORK=" + n.runSpec(),
		"PHARMATRACE_PORT_OFFSET=0",
	}
}

func (n *network) apiProc(node netspec.Node) proc {
	return proc{node: node, bin: n.bin("pharmatrace-api"), args: []string{"serve"}, env: n.apiEnv(),
		ready: httpReady("http://" + node.Address + "/healthz")}
}

func (n *network) stationProc(node netspec.Node) proc {
	return proc{node: node, bin: n.bin("scanner-agent"), args: []string{"run", "-config", filepath.Join(n.appDir("station"), "station.yaml")},
		ready: httpReady("http://" + node.Address + "/healthz")}
}

// startApps starts the API (with a token per demo user, created once) and
// the demo scanner station (with a seeded lot at its pharmacy).
func (n *network) startApps(ctx context.Context) (tokens map[string]string, frames string, err error) {
	for _, b := range []string{"pharmatrace-api", "scanner-agent"} {
		if !exists(n.bin(b)) {
			return nil, "", fmt.Errorf("%s is missing in %s: run `make up`", b, n.binDir)
		}
	}
	if err := os.MkdirAll(n.appDir("api"), 0o755); err != nil {
		return nil, "", err
	}
	if tokens, err = n.apiTokens(ctx); err != nil {
		return nil, "", err
	}
	apps := n.l.AppNodes()
	if err := start(ctx, n.apiProc(apps[0])); err != nil {
		return nil, "", err
	}
	if frames, err = n.seedStation(ctx); err != nil {
		return nil, "", err
	}
	return tokens, frames, start(ctx, n.stationProc(apps[1]))
}

// apiTokens creates the demo users' API tokens once and keeps them
// (0600) in run/api/tokens.
func (n *network) apiTokens(ctx context.Context) (map[string]string, error) {
	path := filepath.Join(n.appDir("api"), "tokens")
	out := map[string]string{}
	if b, err := os.ReadFile(path); err == nil {
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if u, tok, ok := strings.Cut(line, " "); ok {
				out[u] = tok
			}
		}
		return out, nil
	}
	var lines []string
	for _, u := range tokenUsers {
		cmd := exec.CommandContext(ctx, n.bin("pharmatrace-api"), "token", "create", "-user", u)
		cmd.Env = append(os.Environ(), n.apiEnv()...)
		tok, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("create API token for %s: %w", u, err)
		}
		out[u] = strings.TrimSpace(string(tok))
		lines = append(lines, u+" "+out[u])
	}
	return out, os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
}

// seedStation commissions a demo lot, ships it to the station's pharmacy,
// receives it there, writes the station's configuration and the packs'
// DataMatrix frames (for `scanner-agent simulate -file`). Done once.
func (n *network) seedStation(ctx context.Context) (string, error) {
	dir := n.appDir("station")
	frames := filepath.Join(dir, "demo-frames.txt")
	if exists(frames) {
		return frames, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	org, user, _ := strings.Cut(n.l.Apps.StationUser, "/")
	site, err := n.l.User(org, user)
	if err != nil {
		return "", fmt.Errorf("apps.stationUser: %w", err)
	}
	dial := func(org, user string) (*gateway.Client, error) {
		cfg, err := fabconn.GatewayConfig(n.l, org, user)
		if err != nil {
			return nil, err
		}
		return gateway.Dial(ctx, cfg, gateway.WithGetRequestLookup())
	}
	var mfrUser netspec.Identity
	for _, o := range n.l.Orgs {
		for _, u := range o.Users {
			if u.Role == "manufacturer" && mfrUser.Name == "" {
				mfrUser, _ = n.l.User(o.MSPID, u.Name)
			}
		}
	}
	mfr, err := dial(mfrUser.Org, mfrUser.Name)
	if err != nil {
		return "", err
	}
	defer mfr.Close()
	ph, err := dial(org, user)
	if err != nil {
		return "", err
	}
	defer ph.Close()

	gcp := strings.Split(mfrUser.GCP, ",")[0]
	stamp := time.Now().UTC().Format("0102150405")
	item := stamp[len(stamp)-(12-len(gcp)):]
	d, _ := gs1.CheckDigit("0" + gcp + item)
	gtin := "0" + gcp + item + strconv.Itoa(d)
	lot, expiry := "DEMO"+stamp[:4], time.Now().AddDate(2, 0, 0).Format("060102")
	id := func(step string) trace.RequestHeader {
		return trace.RequestHeader{RequestID: "demo-" + stamp + "-" + step}
	}
	if _, err := mfr.RegisterProduct(ctx, trace.RegisterProductRequest{RequestHeader: id("product"), GTIN: gtin,
		Name: "Demo paracetamol 500 mg", Form: "tablet", Strength: "500 mg", PackSize: 20}); err != nil {
		return "", fmt.Errorf("seed demo product: %w", err)
	}
	var serials []string
	var refs []trace.PackRef
	var lines []string
	for i := range demoPacks {
		s := fmt.Sprintf("D%s%02d", stamp[4:], i)
		serials = append(serials, s)
		refs = append(refs, trace.PackRef{GTIN: gtin, Serial: s})
		lines = append(lines, fmt.Sprintf("]d2<GS>01%s17%s10%s<GS>21%s", gtin, expiry, lot, s))
	}
	if _, err := mfr.CommissionPacks(ctx, trace.CommissionPacksRequest{RequestHeader: id("commission"), GTIN: gtin, Lot: lot, Expiry: expiry, Serials: serials}); err != nil {
		return "", fmt.Errorf("seed demo lot: %w", err)
	}
	asn := "DEMO-" + stamp
	if _, err := mfr.Ship(ctx, trace.ShipRequest{RequestHeader: id("ship"), ShipmentID: asn, To: trace.Party{MSP: site.MSPID, GLN: site.GLN}, Packs: refs}); err != nil {
		return "", fmt.Errorf("seed demo shipment: %w", err)
	}
	receive := trace.ReceiveRequest{RequestHeader: id("receive"), ShipmentID: asn, Packs: refs}
	if _, err := gateway.AwaitVisible(ctx, 10*time.Second, func(ctx context.Context) (*trace.ReceiveResult, error) { return ph.Receive(ctx, receive) }); err != nil {
		return "", fmt.Errorf("seed demo receipt: %w", err)
	}

	if _, err := fabconn.WriteStationConfig(n.l, org, user, "demo-counter", dir, n.l.Addr(n.l.Apps.StationPort)); err != nil {
		return "", err
	}
	body := "# demo packs at " + site.GLN + " (" + n.l.Apps.StationUser + "), one DataMatrix per line\n" + strings.Join(lines, "\n") + "\n"
	return frames, os.WriteFile(frames, []byte(body), 0o644)
}

// printWhere tells the user where to look once everything runs.
func (n *network) printWhere(w io.Writer, tokens map[string]string, frames string) {
	api := "http://" + n.l.Addr(n.l.Apps.APIPort)
	fmt.Fprintf(w, "\nAPI:        %s/api/v1 (OpenAPI: %s/api/v1/openapi.json)\n", api, api)
	fmt.Fprintf(w, "dashboard:  %s/dashboard — log in with the regulator's token:\n  %s\n", api, tokens["Regulator/inspector"])
	fmt.Fprintf(w, "API tokens: %s (curl -H \"Authorization: Bearer <token>\" %s/api/v1/me)\n", filepath.Join(n.appDir("api"), "tokens"), api)
	fmt.Fprintf(w, "station:    http://%s/ (demo counter of %s, dispense mode; its terminal: %s)\n",
		n.l.Addr(n.l.Apps.StationPort), n.l.Apps.StationUser, filepath.Join(n.l.Dir, "logs", "station.log"))
	fmt.Fprintf(w, "scan:       bin/scanner-agent simulate -file %s -link %s -rate 1\n", frames, filepath.Join(n.appDir("station"), "scanner"))
}

package auth_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pharmatrace/pharmatrace/api/auth"
	"github.com/pharmatrace/pharmatrace/api/internal/dbtest"
	"github.com/pharmatrace/pharmatrace/fabric-network/netspec"
	"github.com/pharmatrace/pharmatrace/trace"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Run(m)) }

var inspector = auth.Identity{Org: "Regulator", MSP: "RegulatorMSP", User: "inspector", Role: trace.RoleRegulator, GLN: "4900000000009"}

func TestTokenLifecycle(t *testing.T) {
	for _, e := range dbtest.Engines {
		t.Run(string(e), func(t *testing.T) {
			ctx := context.Background()
			d := dbtest.Open(t, e)
			s := auth.NewStore(d)
			if err := s.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			tok, rec, err := s.Create(ctx, inspector, 0)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(tok, "ptk_"+rec.ID+"_") || len(tok) < 50 {
				t.Errorf("token %q", tok)
			}
			got, err := s.Authenticate(ctx, tok)
			if err != nil || got.Identity != inspector || got.ID != rec.ID {
				t.Fatalf("authenticate: %+v %v", got, err)
			}
			// Only the hash is stored.
			var n int
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE hash = ? AND hash <> ?`, auth.Hash(tok), tok).Scan(&n); err != nil || n != 1 {
				t.Errorf("stored hash rows %d %v", n, err)
			}
			if err := d.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE hash LIKE ? OR id = ?`, "%"+tok[len(tok)-20:]+"%", tok).Scan(&n); err != nil || n != 0 {
				t.Errorf("the secret is stored: %d %v", n, err)
			}
			for _, bad := range []string{"", "ptk_", tok + "x", strings.ToUpper(tok), "Bearer " + tok} {
				if _, err := s.Authenticate(ctx, bad); !errors.Is(err, auth.ErrInvalidToken) {
					t.Errorf("%q: %v", bad, err)
				}
			}
			if err := s.Revoke(ctx, rec.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("revoked token accepted: %v", err)
			}
			if err := s.Revoke(ctx, "nosuchtoken"); !errors.Is(err, auth.ErrNoToken) {
				t.Errorf("revoke unknown: %v", err)
			}
			short, _, err := s.Create(ctx, inspector, time.Nanosecond)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
			if _, err := s.Authenticate(ctx, short); !errors.Is(err, auth.ErrInvalidToken) {
				t.Errorf("expired token accepted: %v", err)
			}
			t3, _, _ := s.Create(ctx, inspector, 0)
			if n, err := s.RevokeUser(ctx, "RegulatorMSP", "inspector"); err != nil || n != 2 {
				t.Errorf("revoke user: %d %v", n, err)
			}
			if _, err := s.Authenticate(ctx, t3); err == nil {
				t.Error("token of a revoked user accepted")
			}
			list, err := s.List(ctx)
			if err != nil || len(list) != 3 {
				t.Errorf("list: %d %v", len(list), err)
			}
		})
	}
}

func TestNetworkDirectory(t *testing.T) {
	spec, err := netspec.Load(filepath.Join("..", "..", "fabric-network", "network.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := auth.NetworkDirectory{Spec: spec}
	for _, org := range []string{"Regulator", "RegulatorMSP"} {
		id, err := dir.Lookup(org, "inspector")
		if err != nil || id != inspector {
			t.Errorf("%s/inspector: %+v %v", org, id, err)
		}
	}
	mfr, err := dir.Lookup("Manufacturer", "mfr-alpha")
	if err != nil || mfr.GCP != "4012345" || mfr.Role != trace.RoleManufacturer {
		t.Errorf("mfr-alpha: %+v %v", mfr, err)
	}
	for _, bad := range [][2]string{{"Nowhere", "x"}, {"Regulator", "nobody"}} {
		if _, err := dir.Lookup(bad[0], bad[1]); err == nil {
			t.Errorf("%v resolved", bad)
		}
	}
	if _, _, err := auth.ParseUser("Regulator"); err == nil {
		t.Error("user without org accepted")
	}
}

// Package auth issues, checks and revokes the API's bearer tokens. A token
// is issued for one user of the network definition and bound to that user's
// Fabric identity (organisation, MSP, role, GLN, GS1 company prefixes); the
// API submits to the ledger with that user's own certificate (per-org
// wallets), never with a shared identity.
//
// Tokens look like "ptk_<id>_<secret>" (id: 10 lowercase base32 characters
// for listing and revocation, secret: 32 random bytes, base64url). Only the
// SHA-256 of the whole token is stored; the token itself is shown once, when
// it is created.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pharmatrace/pharmatrace/api/db"
	"github.com/pharmatrace/pharmatrace/trace"
)

// Identity is the ledger identity a token stands for.
type Identity struct {
	// Org is the organisation's name in the network definition
	// (e.g. "Manufacturer"), MSP its MSP ID.
	Org  string     `json:"org"`
	MSP  string     `json:"msp"`
	User string     `json:"user"`
	Role trace.Role `json:"role"`
	GLN  string     `json:"gln,omitempty"`
	GCP  string     `json:"gcp,omitempty"`
}

// Actor is the identity as the chaincode records it.
func (i Identity) Actor() trace.Actor { return trace.Actor{MSP: i.MSP, Role: i.Role, GLN: i.GLN} }

// Key names the user: "<org>/<user>".
func (i Identity) Key() string { return i.Org + "/" + i.User }

// Validate checks the identity, naming the offending field.
func (i Identity) Validate() error {
	switch {
	case i.Org == "":
		return errors.New("identity: org: empty")
	case i.MSP == "":
		return errors.New("identity: msp: empty")
	case i.User == "":
		return errors.New("identity: user: empty")
	}
	known := false
	for _, r := range trace.Roles {
		known = known || r == i.Role
	}
	if !known {
		return fmt.Errorf("identity: role: %q is not a PharmaTrace role", i.Role)
	}
	if i.GLN != "" {
		if err := trace.CheckGLN(i.GLN); err != nil {
			return fmt.Errorf("identity: gln: %w", err)
		}
	}
	return nil
}

// Errors.
var (
	// ErrInvalidToken: the token is malformed, unknown, revoked or expired.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrNoToken: the token ID names no token.
	ErrNoToken = errors.New("auth: no such token")
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations returns the token table's schema history.
func Migrations() db.Migrations {
	return db.Migrations{Component: "auth", FS: migrationFS, Dir: "migrations"}
}

// Token is a stored token (without its secret).
type Token struct {
	ID        string    `json:"id"`
	Identity  Identity  `json:"identity"`
	CreatedAt time.Time `json:"createdAt"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	RevokedAt time.Time `json:"revokedAt,omitzero"`
}

// Active reports whether the token may be used at now.
func (t Token) Active(now time.Time) bool {
	return t.RevokedAt.IsZero() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt))
}

// Store keeps tokens in the API's database.
type Store struct {
	db  *db.DB
	now func() time.Time
}

// NewStore returns a token store over d (call Migrate first).
func NewStore(d *db.DB) *Store { return &Store{db: d, now: time.Now} }

// Migrate creates or upgrades the token table.
func (s *Store) Migrate(ctx context.Context) error {
	_, err := s.db.Migrate(ctx, Migrations())
	return err
}

// Hash returns the stored form of a token: hex SHA-256.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Create issues a token for id, valid for ttl (0: until revoked), and
// returns the token (show it once) and its record.
func (s *Store) Create(ctx context.Context, id Identity, ttl time.Duration) (string, Token, error) {
	if err := id.Validate(); err != nil {
		return "", Token{}, err
	}
	var raw [38]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", Token{}, fmt.Errorf("auth: random: %w", err)
	}
	tid := idEncoding.EncodeToString(raw[:6])[:10]
	secret := base64.RawURLEncoding.EncodeToString(raw[6:])
	token := "ptk_" + tid + "_" + secret
	now := s.now().UTC()
	t := Token{ID: tid, Identity: id, CreatedAt: now}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, org, msp, username, role, gln, gcp, created_at, expires_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`, t.ID, Hash(token), id.Org, id.MSP, id.User, string(id.Role), id.GLN, id.GCP,
		db.FormatTime(now), db.FormatTime(t.ExpiresAt))
	if err != nil {
		return "", Token{}, fmt.Errorf("auth: store token: %w", err)
	}
	return token, t, nil
}

const tokenCols = `id, org, msp, username, role, gln, gcp, created_at, expires_at, revoked_at`

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var role, created, expires, revoked string
	if err := sc.Scan(&t.ID, &t.Identity.Org, &t.Identity.MSP, &t.Identity.User, &role, &t.Identity.GLN, &t.Identity.GCP, &created, &expires, &revoked); err != nil {
		return Token{}, err
	}
	t.Identity.Role = trace.Role(role)
	var err error
	if t.CreatedAt, err = db.ParseTime(created); err != nil {
		return Token{}, err
	}
	if t.ExpiresAt, err = db.ParseTime(expires); err != nil {
		return Token{}, err
	}
	if t.RevokedAt, err = db.ParseTime(revoked); err != nil {
		return Token{}, err
	}
	return t, nil
}

// Authenticate returns the token record of an active token.
func (s *Store) Authenticate(ctx context.Context, token string) (Token, error) {
	if !strings.HasPrefix(token, "ptk_") || len(token) > 128 {
		return Token{}, ErrInvalidToken
	}
	t, err := scanToken(s.db.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE hash = ?`, Hash(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrInvalidToken
	}
	if err != nil {
		return Token{}, fmt.Errorf("auth: look up token: %w", err)
	}
	if !t.Active(s.now()) {
		return Token{}, ErrInvalidToken
	}
	return t, nil
}

// Revoke revokes a token by its ID.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = ''`, db.FormatTime(s.now()), id)
	if err != nil {
		return fmt.Errorf("auth: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		var exists int
		if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens WHERE id = ?`, id).Scan(&exists); err == nil && exists > 0 {
			return nil // already revoked
		}
		return fmt.Errorf("%w: %s", ErrNoToken, id)
	}
	return nil
}

// RevokeUser revokes every active token of a user and returns how many.
func (s *Store) RevokeUser(ctx context.Context, org, user string) (int, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE api_tokens SET revoked_at = ? WHERE (org = ? OR msp = ?) AND username = ? AND revoked_at = ''`,
		db.FormatTime(s.now()), org, org, user)
	if err != nil {
		return 0, fmt.Errorf("auth: revoke: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// List returns every token, newest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("auth: list: %w", err)
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

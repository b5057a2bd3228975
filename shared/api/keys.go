package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jobweaver/jobweaver/shared/apierror"
	"github.com/jobweaver/jobweaver/shared/auth"
	"github.com/jobweaver/jobweaver/shared/httpjson"
	"github.com/jobweaver/jobweaver/shared/strictjson"
)

// Key limits.
const (
	// MaxKeyNameLen is the longest key name, in characters.
	MaxKeyNameLen = 100
	// touchEvery is how often a key's last_used_at is written at most.
	touchEvery = time.Minute
	// maxCachedKeys bounds the key cache; past it the cache starts over.
	maxCachedKeys = 10000
	// adminKeyName names the key API_ADMIN_KEY seeds (and its creator).
	adminKeyName = "API_ADMIN_KEY"
)

// keyRecord is what a request's authentication needs of a key.
type keyRecord struct {
	id                   string
	hash                 []byte
	role                 auth.Role
	expiresAt, revokedAt *time.Time
	rateLimit            *float64 // nil: API_RATE_LIMIT
	rateBurst            *int
}

// keyCache remembers key lookups for at most ttl, so that a revoked key
// is refused within ttl by every api process (a warm Lambda included)
// while a busy key costs one query per ttl. It also remembers when each
// key's last use was last written.
type keyCache struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[[32]byte]cachedKey
	touched map[string]time.Time // key ID -> last write of last_used_at
}

type cachedKey struct {
	rec     *keyRecord // nil: no such key
	fetched time.Time
}

func newKeyCache(ttl time.Duration) *keyCache {
	return &keyCache{ttl: ttl, now: time.Now,
		entries: map[[32]byte]cachedKey{}, touched: map[string]time.Time{}}
}

// lookup finds the key whose hash is h: from the cache if it is younger
// than ttl, else from the database. nil means no such key.
func (c *keyCache) lookup(ctx context.Context, pool *pgxpool.Pool, h []byte) (*keyRecord, error) {
	var k [32]byte
	copy(k[:], h)
	c.mu.Lock()
	e, ok := c.entries[k]
	c.mu.Unlock()
	if ok && c.now().Sub(e.fetched) < c.ttl {
		return e.rec, nil
	}
	fetched := c.now()
	rec := &keyRecord{}
	var role string
	err := pool.QueryRow(ctx, `SELECT id, hash, role, expires_at, revoked_at, rate_limit, rate_burst FROM api_keys WHERE hash = $1`, h).
		Scan(&rec.id, &rec.hash, &role, &rec.expiresAt, &rec.revokedAt, &rec.rateLimit, &rec.rateBurst)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		rec = nil
	case err != nil:
		return nil, fmt.Errorf("look up an API key: %w", err)
	default:
		if rec.role, err = auth.ParseRole(role); err != nil {
			return nil, fmt.Errorf("API key %s: %w", rec.id, err)
		}
	}
	c.mu.Lock()
	if len(c.entries) >= maxCachedKeys {
		clear(c.entries)
	}
	c.entries[k] = cachedKey{rec: rec, fetched: fetched}
	c.mu.Unlock()
	return rec, nil
}

// forget drops every cached lookup (after a revocation here).
func (c *keyCache) forget() {
	c.mu.Lock()
	clear(c.entries)
	c.mu.Unlock()
}

// shouldTouch reports whether key id's last use is due to be written (at
// most once per touchEvery by this process), and if so notes it.
func (c *keyCache) shouldTouch(id string) bool {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.touched[id]; ok && now.Sub(t) < touchEvery {
		return false
	}
	if len(c.touched) >= maxCachedKeys {
		clear(c.touched)
	}
	c.touched[id] = now
	return true
}

// touch records a key's use: at most once a minute per key, across
// processes too (the condition), and never failing the request.
func (s *Service) touch(ctx context.Context, id string) {
	if !s.keys.shouldTouch(id) {
		return
	}
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = now()
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - $2::interval)`,
		id, touchEvery.String())
	if err != nil {
		s.log.WarnContext(ctx, "could not record an API key's last use", "keyId", id, "error", err.Error())
	}
}

// seedAdminKey stores key (API_ADMIN_KEY) as an admin key unless a key
// with its hash exists already (then it is left as it is, revoked or not).
func seedAdminKey(ctx context.Context, pool *pgxpool.Pool, key string) error {
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	tag, err := tx.Exec(ctx, `INSERT INTO api_keys (id, prefix, hash, name, role, created_by)
		VALUES ($1, $2, $3, $4, 'admin', $4) ON CONFLICT (hash) DO NOTHING`,
		id, auth.DisplayPrefix(key), auth.Hash(key), adminKeyName)
	if err != nil {
		return fmt.Errorf("api: seed the API_ADMIN_KEY key: %w", err)
	}
	if tag.RowsAffected() == 1 {
		if err := audit(ctx, tx, adminKeyName, "key.create", id.String(), map[string]any{"role": "admin", "name": adminKeyName}); err != nil {
			return err
		}
	}
	return tx.Commit(ctx)
}

// audit records an action.
func audit(ctx context.Context, tx pgx.Tx, caller, action, target string, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit (id, caller, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		id, caller, action, target, detail)
	if err != nil {
		return fmt.Errorf("record the audit: %w", err)
	}
	return nil
}

// CreateKeyRequest is the body of POST /api/keys.
type CreateKeyRequest struct {
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt,omitempty"`
	// RateLimit (requests/s) and RateBurst are the key's own limit
	// (ratelimit.go); without them it follows API_RATE_LIMIT.
	RateLimit *float64 `json:"rateLimit,omitempty"`
	RateBurst *int     `json:"rateBurst,omitempty"`
}

// CreatedKey is POST /api/keys's answer: the only time the key is shown.
type CreatedKey struct {
	ID        string     `json:"id"`
	Key       string     `json:"key"`
	Prefix    string     `json:"prefix"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	ExpiresAt *time.Time `json:"expiresAt"`
	RateLimit *float64   `json:"rateLimit"`
	RateBurst *int       `json:"rateBurst"`
}

// KeyView is a key in GET /api/keys and DELETE /api/keys/{id}: never the
// key or its hash.
type KeyView struct {
	ID         string     `json:"id"`
	Prefix     string     `json:"prefix"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	CreatedBy  string     `json:"createdBy"`
	CreatedAt  time.Time  `json:"createdAt"`
	LastUsedAt *time.Time `json:"lastUsedAt"`
	ExpiresAt  *time.Time `json:"expiresAt"`
	RevokedAt  *time.Time `json:"revokedAt"`
	RateLimit  *float64   `json:"rateLimit"`
	RateBurst  *int       `json:"rateBurst"`
}

// KeyList is GET /api/keys's answer, newest first.
type KeyList struct {
	Content []KeyView `json:"content"`
}

const keyColumns = `id, prefix, name, role, created_by, created_at, last_used_at, expires_at, revoked_at, rate_limit, rate_burst`

func scanKey(row pgx.Row) (KeyView, error) {
	var k KeyView
	var id uuid.UUID
	err := row.Scan(&id, &k.Prefix, &k.Name, &k.Role, &k.CreatedBy, &k.CreatedAt, &k.LastUsedAt, &k.ExpiresAt, &k.RevokedAt, &k.RateLimit, &k.RateBurst)
	k.ID = id.String()
	utc := func(t *time.Time) {
		if t != nil {
			*t = t.UTC()
		}
	}
	k.CreatedAt = k.CreatedAt.UTC()
	utc(k.LastUsedAt)
	utc(k.ExpiresAt)
	utc(k.RevokedAt)
	return k, err
}

// createKey is POST /api/keys (admin): a new key, shown once (201).
func (s *Service) createKey(w http.ResponseWriter, r *http.Request) error {
	if err := checkJSON(r.Header.Get("Content-Type")); err != nil {
		return err
	}
	raw, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req CreateKeyRequest
	const shape = `the body must be {"name": "...", "role": "viewer"|"operator"|"admin", "expiresAt"?: RFC 3339 time, "rateLimit"?: requests/s, "rateBurst"?: integer}`
	if err := strictjson.Decode(raw, &req); err != nil {
		return badRequest("%s: %v", shape, err)
	}
	if err := strictjson.CheckKeys(raw, strictjson.Fields(&req)); err != nil {
		return badRequest("%s: %v", shape, err)
	}
	var details []string
	name := strings.TrimSpace(req.Name)
	if name == "" || utf8.RuneCountInString(name) > MaxKeyNameLen {
		details = append(details, fmt.Sprintf("name: must be 1 to %d characters, not blank", MaxKeyNameLen))
	}
	role, err := auth.ParseRole(req.Role)
	if err != nil {
		details = append(details, "role: "+err.Error())
	}
	now := time.Now()
	if req.ExpiresAt != nil && !req.ExpiresAt.After(now) {
		details = append(details, "expiresAt: must be in the future")
	}
	rateLimit, rateBurst, limitDetails := keyLimitRequest(req.RateLimit, req.RateBurst)
	details = append(details, limitDetails...)
	if len(details) > 0 {
		e := badRequest("the key request is invalid: %s", strings.Join(details, "; "))
		e.Details = details
		return e
	}
	key, err := auth.Generate()
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	caller := auth.CallerOf(r.Context()).ID
	ctx := r.Context()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var expires *time.Time
	if req.ExpiresAt != nil {
		t := req.ExpiresAt.UTC()
		expires = &t
	}
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, prefix, hash, name, role, created_by, expires_at, rate_limit, rate_burst)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		id, auth.DisplayPrefix(key), auth.Hash(key), name, role.String(), caller, expires, rateLimit, rateBurst); err != nil {
		return fmt.Errorf("store an API key: %w", err)
	}
	if err := audit(ctx, tx, caller, "key.create", id.String(), map[string]any{"name": name, "role": role.String(), "expiresAt": expires, "rateLimit": rateLimit, "rateBurst": rateBurst}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "API key created", "keyId", id.String(), "role", role.String(), "by", caller)
	httpjson.Write(w, http.StatusCreated, CreatedKey{ID: id.String(), Key: key, Prefix: auth.DisplayPrefix(key),
		Name: name, Role: role.String(), ExpiresAt: expires, RateLimit: rateLimit, RateBurst: rateBurst})
	return nil
}

// listKeys is GET /api/keys (admin): every key, newest first, without
// its hash.
func (s *Service) listKeys(w http.ResponseWriter, r *http.Request) error {
	rows, err := s.pool.Query(r.Context(), `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at DESC, id DESC`)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := KeyList{Content: []KeyView{}}
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return err
		}
		out.Content = append(out.Content, k)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	httpjson.Write(w, http.StatusOK, out)
	return nil
}

// revokeKey is DELETE /api/keys/{id} (admin): the key is refused from now
// on here, and within the key cache's TTL by every other api process. A
// second revocation answers the same (200, the first revokedAt).
func (s *Service) revokeKey(w http.ResponseWriter, r *http.Request) error {
	raw := r.PathValue("id")
	id, err := uuid.Parse(raw)
	if err != nil {
		return badRequest("key id must be a UUID (got %q)", raw)
	}
	ctx := r.Context()
	caller := auth.CallerOf(ctx).ID
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	k, err := scanKey(tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
		WHERE id = $1 RETURNING `+keyColumns, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return apierror.New(http.StatusNotFound, "API.KEY_NOT_FOUND", fmt.Sprintf("no API key %s", id))
	}
	if err != nil {
		return err
	}
	if err := audit(ctx, tx, caller, "key.revoke", k.ID, map[string]any{"name": k.Name, "role": k.Role}); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	s.keys.forget()
	s.log.InfoContext(ctx, "API key revoked", "keyId", k.ID, "by", caller)
	httpjson.Write(w, http.StatusOK, k)
	return nil
}

// EnsureAdminKey makes an admin key when the api database has no usable
// one (none that is neither revoked nor expired) and returns it, created
// by creator; it returns "" when one exists. make run calls it with
// API_AUTH=keys and no API_ADMIN_KEY, and prints the key once.
func EnsureAdminKey(ctx context.Context, pool *pgxpool.Pool, creator string) (string, error) {
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL
		AND (expires_at IS NULL OR expires_at > now())`).Scan(&n); err != nil {
		return "", fmt.Errorf("api: look for an admin key: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	key, err := auth.Generate()
	if err != nil {
		return "", err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", err
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return "", err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `INSERT INTO api_keys (id, prefix, hash, name, role, created_by)
		VALUES ($1, $2, $3, 'first admin', 'admin', $4)`, id, auth.DisplayPrefix(key), auth.Hash(key), creator); err != nil {
		return "", fmt.Errorf("api: store the first admin key: %w", err)
	}
	if err := audit(ctx, tx, creator, "key.create", id.String(), map[string]any{"role": "admin", "name": "first admin"}); err != nil {
		return "", err
	}
	return key, tx.Commit(ctx)
}

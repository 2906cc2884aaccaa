package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"healthcare/internal/auth"
	"healthcare/internal/database"
)

// maxUsernameLen is app.users' username limit, checked here too (see
// validUsername); TestUsernameShapeIsTheDatabases keeps the two equal.
const maxUsernameLen = 150

type registerInput struct {
	Username field[string] `json:"username"`
	Email    field[string] `json:"email"`
	Password field[string] `json:"password"`
}

type credentialsInput struct {
	Username field[string] `json:"username"`
	Password field[string] `json:"password"`
}

type refreshInput struct {
	Refresh field[string] `json:"refresh"`
}

// tokenPair is the body of a successful login or refresh (simplejwt's).
type tokenPair struct {
	Refresh string `json:"refresh"`
	Access  string `json:"access"`
}

// validUsername is the rule app.users enforces (users_username_check):
// 1 to 150 ASCII letters, digits and @ . + - _. Checking it here first
// spares an argon2 hash for a name the database would refuse anyway.
func validUsername(s string) bool {
	if s == "" || len(s) > maxUsernameLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '_' || c == '.' || c == '@' || c == '+' || c == '-') {
			return false
		}
	}
	return true
}

// validate shape-checks a registration (its own function so it can be
// fuzzed without a database). The e-mail address is the database's to
// judge (users_email_check, with the same message from app.register_user);
// an address that is present must not be null.
func (in registerInput) validate() error {
	var v validator
	if present(&v, "username", in.Username, true) && !validUsername(in.Username.Value) {
		v.add("username", "Enter a valid username: up to 150 ASCII letters, digits and @/./+/-/_ characters.")
	}
	present(&v, "email", in.Email, false)
	if present(&v, "password", in.Password, true) {
		if err := auth.ValidatePassword(in.Password.Value); err != nil {
			v.add("password", err.Error())
		}
	}
	return v.err()
}

func register(db *database.DB, hasher *auth.Hasher) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode[registerInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		if err := in.validate(); err != nil {
			writeError(w, r, err)
			return
		}
		hash, err := hasher.Hash(r.Context(), in.Password.Value)
		if err != nil {
			writeError(w, r, hashError(err))
			return
		}
		callAPI(w, r, db, http.StatusCreated, database.FnRegister, in.Username.Value, in.Email.Value, hash)
	})
}

// hashError: the hasher fails only when the request's context ended while
// waiting for a slot (overload) or on a broken random source.
func hashError(err error) error {
	if errors.Is(err, auth.ErrPasswordTooLong) {
		return invalidFields(fieldError{Field: "password", Message: err.Error()})
	}
	return fmt.Errorf("%w: %w", errUnavailable, err)
}

// storedCredentials is the credentials member of api.login_attempt's answer.
type storedCredentials struct {
	ID           int64  `json:"id"`
	PasswordHash string `json:"password_hash"`
	IsActive     bool   `json:"is_active"`
}

// login checks a password and issues a new token family. An unknown or
// inactive user costs the same argon2 work as a wrong password and gets the
// same answer, so usernames cannot be probed. Failures are counted in
// PostgreSQL per account and per client address; past the limits the
// answer is 429 with Retry-After, whatever the password.
func login(db *database.DB, tokens *auth.Tokens, hasher *auth.Hasher, limits LoginThrottle, trusted []netip.Prefix) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in, err := decode[credentialsInput](r)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var v validator
		present(&v, "username", in.Username, true)
		present(&v, "password", in.Password, true)
		if err := v.err(); err != nil {
			writeError(w, r, err)
			return
		}
		address := clientAddress(r, trusted)
		cred, err := checkPassword(r, db, hasher, limits, in.Username.Value, address, in.Password.Value)
		if err != nil {
			writeError(w, r, err)
			return
		}
		// A hash in other argon2 parameters than the configured ones, or
		// in a Django format, is upgraded now, while the password is at
		// hand; the new hash is stored by the call that issues the tokens.
		var rehash *[2]string
		if hasher.NeedsRehash(cred.PasswordHash) {
			fresh, err := hasher.Hash(r.Context(), in.Password.Value)
			if err != nil {
				writeError(w, r, hashError(err))
				return
			}
			rehash = &[2]string{fresh, cred.PasswordHash}
		}
		pair, err := issuePair(r, db, tokens, cred.ID, in.Username.Value, address, rehash)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeTokens(w, pair)
	})
}

// loginAttempt is api.login_attempt's answer.
type loginAttempt struct {
	Throttled   bool               `json:"throttled"`
	RetryAfter  int                `json:"retry_after"`
	Credentials *storedCredentials `json:"credentials"`
}

// checkPassword returns the stored credentials when the password is right, else
// errBadCredentials, or a 429 when the account or address is throttled.
// One round trip: api.login_attempt checks the limits, counts this attempt
// as a failure in advance and returns the credentials.
func checkPassword(r *http.Request, db *database.DB, hasher *auth.Hasher, limits LoginThrottle, username, address, password string) (*storedCredentials, error) {
	raw, err := db.Call(r.Context(), identity(r), database.FnLoginAttempt, username, address,
		int32(limits.MaxPerAccount), int32(limits.MaxPerAddress), int32(limits.AccountFlood), int32(limits.Window/time.Second))
	if err != nil {
		return nil, err
	}
	var attempt loginAttempt
	if err := json.Unmarshal(raw, &attempt); err != nil {
		return nil, fmt.Errorf("read login attempt: %w", err)
	}
	if attempt.Throttled {
		return nil, throttled(attempt.RetryAfter)
	}
	cred := attempt.Credentials
	if cred == nil || !cred.IsActive {
		if err := hasher.VerifyDummy(r.Context(), password); err != nil {
			return nil, hashError(err)
		}
		return nil, errBadCredentials
	}
	ok, err := hasher.Verify(r.Context(), password, cred.PasswordHash)
	if err != nil {
		return nil, hashError(err)
	}
	if !ok {
		return nil, errBadCredentials
	}
	return cred, nil
}

// issuePair signs an access token and the first refresh token of a new
// family, and records the refresh token so it can be rotated and revoked;
// the same call resets the account's failure count. The first database
// call (login_attempt) and this one make a successful login the one route
// with two round trips; they cannot be merged because the password check
// happens in Go between them. A failed login takes one. rehash, when not
// nil, is a fresh hash of the password and the stored hash it replaces.
func issuePair(r *http.Request, db *database.DB, tokens *auth.Tokens, userID int64, username, address string, rehash *[2]string) (tokenPair, error) {
	refresh, rc, err := tokens.IssueRefresh(userID, "")
	if err != nil {
		return tokenPair{}, err
	}
	access, _, err := tokens.IssueAccess(userID, rc.Family)
	if err != nil {
		return tokenPair{}, err
	}
	id := database.Identity{UserID: userID, RequestID: requestID(r.Context()), ClientRequestID: stateFrom(r.Context()).clientID, ClientAddr: address}
	var newHash, oldHash *string
	if rehash != nil {
		newHash, oldHash = &rehash[0], &rehash[1]
	}
	if _, err := db.Call(r.Context(), id, database.FnCompleteLogin, username, address, userID, rc.ID, rc.Family, rc.ExpiresAt, newHash, oldHash); err != nil {
		return tokenPair{}, err
	}
	return tokenPair{Refresh: refresh, Access: access}, nil
}

func writeTokens(w http.ResponseWriter, pair tokenPair) {
	body, _ := json.Marshal(pair) // two strings cannot fail to marshal
	writeJSON(w, http.StatusOK, body)
}

// readRefresh decodes {"refresh": "..."} and verifies it as a refresh
// token (signature, expiry, type); the database decides if it is current.
func readRefresh(r *http.Request, tokens *auth.Tokens) (auth.Claims, error) {
	in, err := decode[refreshInput](r)
	if err != nil {
		return auth.Claims{}, err
	}
	var v validator
	present(&v, "refresh", in.Refresh, true)
	if err := v.err(); err != nil {
		return auth.Claims{}, err
	}
	claims, err := tokens.Verify(in.Refresh.Value, auth.TokenRefresh)
	if err != nil {
		e := *errBadToken
		e.cause = err
		return auth.Claims{}, &e
	}
	return claims, nil
}

// rotation is api.rotate_refresh_token's answer.
type rotation struct {
	Status string `json:"status"`
	UserID int64  `json:"user_id"`
	Family string `json:"family"`
}

// refresh rotates a refresh token: the old one is spent and a new pair is
// issued in the same family. Presenting a spent token again makes the
// database revoke the whole family (a stolen token was used), so even the
// newest refresh token of that family stops working.
func refresh(db *database.DB, tokens *auth.Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, err := readRefresh(r, tokens)
		if err != nil {
			writeError(w, r, err)
			return
		}
		next, nc, err := tokens.IssueRefresh(old.UserID, old.Family)
		if err != nil {
			writeError(w, r, err)
			return
		}
		id := database.Identity{UserID: old.UserID, RequestID: requestID(r.Context()), ClientRequestID: stateFrom(r.Context()).clientID}
		raw, err := db.Call(r.Context(), id, database.FnRotateRefreshToken, old.ID, nc.ID, nc.ExpiresAt)
		if err != nil {
			writeError(w, r, err)
			return
		}
		var rot rotation
		if err := json.Unmarshal(raw, &rot); err != nil {
			writeError(w, r, fmt.Errorf("read rotation: %w", err))
			return
		}
		if rot.Status != "ok" || rot.UserID != old.UserID {
			e := *errBadToken
			e.cause = fmt.Errorf("refresh token %s", rot.Status)
			writeError(w, r, &e)
			return
		}
		access, _, err := tokens.IssueAccess(rot.UserID, old.Family)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeTokens(w, tokenPair{Refresh: next, Access: access})
	})
}

// logout revokes the presented refresh token. Repeating it is harmless.
func logout(db *database.DB, tokens *auth.Tokens) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		old, err := readRefresh(r, tokens)
		if err != nil {
			writeError(w, r, err)
			return
		}
		id := database.Identity{UserID: old.UserID, RequestID: requestID(r.Context()), ClientRequestID: stateFrom(r.Context()).clientID}
		_, err = db.Call(r.Context(), id, database.FnRevokeRefreshToken, old.ID)
		if err != nil {
			writeError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func me(db *database.DB) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callAPI(w, r, db, http.StatusOK, database.FnMe)
	})
}

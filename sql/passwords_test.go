package sql_test

import (
	"context"
	"testing"

	"healthcare/internal/pgtest"
)

// app.users holds this product's argon2id hashes, the Django formats the
// importer carries over until their first login, and unusable "!" hashes;
// nothing else.
func TestPasswordHashFormats(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	for hash, ok := range map[string]bool{
		pgtest.FakeHash:                                  true,
		"pbkdf2_sha256$260000$salt$a2V5":                 true,
		"pbkdf2_sha1$260000$salt$a2V5":                   true,
		"argon2$argon2id$v=19$m=512,t=2,p=2$c2FsdA$a2V5": true,
		"argon2$argon2i$v=19$m=512,t=2,p=2$c2FsdA$a2V5":  true,
		"!unusable: bcrypt_sha256":                       true,
		"bcrypt_sha256$$2b$12$abc":                       false,
		"pbkdf2xsha256$1$s$k":                            false,
		"hunter2":                                        false,
		"$argon2i$v=19$m=512,t=2,p=2$c2FsdA$a2V5":        false,
	} {
		_, err := db.Pool.Exec(ctx, `insert into app.users (username, password_hash) values ('u' || md5($1), $1)`, hash)
		if got := err == nil; got != ok {
			t.Errorf("stored %q: %v, want accepted %v", hash, err, ok)
		}
	}
}

// api.complete_login stores the server's upgraded hash only in place of the
// hash it read, and only an argon2id one (policy users.update_auth).
func TestCompleteLoginUpgradesOnlyWhatItRead(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	id := pgtest.CreateUser(t, db.Pool, "upgrader")
	app := db.AppPool(t)
	const fresh = "$argon2id$v=19$m=128,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA"
	login := func(newHash, oldHash string) error {
		_, err := app.Exec(ctx, `select api.complete_login('upgrader', '192.0.2.1', $1, gen_random_uuid(), gen_random_uuid(),
		                                                     now() + interval '1 hour', $2, $3)`, id, newHash, oldHash)
		return err
	}
	stored := func() string {
		var h string
		if err := db.Pool.QueryRow(ctx, `select password_hash from app.users where id = $1`, id).Scan(&h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	if err := login("pbkdf2_sha256$1$s$a2V5", pgtest.FakeHash); pgtest.PgError(err).Code != "42501" {
		t.Fatalf("a non-argon2id upgrade: %v, want 42501 (users.update_auth)", err)
	}
	if err := login(fresh, "$argon2id$v=19$m=1,t=1,p=1$b3RoZXI$b3RoZXI"); err != nil || stored() != pgtest.FakeHash {
		t.Fatalf("an upgrade of a hash that changed meanwhile: %v, stored %q", err, stored())
	}
	if err := login(fresh, pgtest.FakeHash); err != nil || stored() != fresh {
		t.Fatalf("the upgrade: %v, stored %q", err, stored())
	}
}

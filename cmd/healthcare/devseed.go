package main

// The demo data of `healthcare dev`: migrations, the runtime and demo
// logins, and the seed made on the first run.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"healthcare/internal/auth"
	"healthcare/internal/database"
	"healthcare/internal/dbadmin"
	"healthcare/internal/reporting"
)

// devPrepare migrates, (re)sets the logins' passwords and seeds on the
// first run.
func devPrepare(ctx context.Context, superURL, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer conn.Close(context.Background())
	if err := dbadmin.Migrate(ctx, conn, -1); err != nil {
		return err
	}
	// The runtime login: a plain member of the API group, nothing else.
	if _, err := dbadmin.EnsureLogin(ctx, conn, dbadmin.Login{Name: devAppRole, Password: st.AppPassword, Groups: []string{dbadmin.APIGroup}}); err != nil {
		return err
	}
	return devReportingAndSeed(ctx, conn, appURL, st, dir, limits, stderr)
}

func devPrepareExternal(ctx context.Context, superURL, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	conn, err := pgx.Connect(ctx, superURL)
	if err != nil {
		return fmt.Errorf("connect with MIGRATION_DATABASE_URL: %w", err)
	}
	defer conn.Close(context.Background())
	if err := dbadmin.Migrate(ctx, conn, -1); err != nil {
		return err
	}
	return devReportingAndSeed(ctx, conn, appURL, st, dir, limits, stderr)
}

// devReportingAndSeed makes the reporting login (as db-access
// grant-reporting does, with the same session limits) and seeds on the
// first run.
func devReportingAndSeed(ctx context.Context, conn *pgx.Conn, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	if _, err := dbadmin.GrantReporting(ctx, conn, devReportLogin, st.ReportPassword, limits); err != nil {
		return err
	}
	if err := devSeed(ctx, conn, appURL, st, dir, limits, stderr); err != nil {
		return err
	}
	// The demo's figures are released at once, not after the first day.
	_, err := reporting.Release(ctx, conn, true)
	return err
}

// devSeed fills an empty database once: accounts through the same paths
// as createsuperuser and POST /api/auth/register/, records through the
// api functions the REST routes call, as the users who own them.
func devSeed(ctx context.Context, conn *pgx.Conn, appURL string, st *devState, dir string, limits dbadmin.SessionLimits, stderr io.Writer) error {
	if st.Seeded {
		return nil
	}
	hasUsers, err := dbadmin.HasUsers(ctx, conn)
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if hasUsers {
		// Not our first run after all (state file lost): never seed twice.
		fmt.Fprintln(stderr, "dev: database already has users; not seeding")
		st.Seeded = true
		return st.save(dir)
	}
	fmt.Fprintln(stderr, "dev: first run: seeding demo data")
	hasher, err := auth.NewHasher(auth.DefaultParams, 0)
	if err != nil {
		return err
	}
	hash := func(pw string) (string, error) { return hasher.Hash(ctx, pw) }

	h, err := hash(st.AdminPassword)
	if err != nil {
		return err
	}
	adminID, err := dbadmin.CreateAdmin(ctx, conn, devAdmin, "admin@example.com", h)
	if err != nil {
		return err
	}

	db, err := database.Open(ctx, appURL, database.Options{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("seed: connect as %s: %w", devAppRole, err)
	}
	defer db.Close()
	call := func(uid int64, fn database.Func, args ...any) (map[string]any, error) {
		out, err := db.Call(ctx, database.Identity{UserID: uid, RequestID: "dev-seed"}, fn, args...)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(out, &m); err != nil {
			return nil, fmt.Errorf("seed: api.%s: %w", fn.Name(), err)
		}
		return m, nil
	}
	id := func(m map[string]any) int64 { f, _ := m["id"].(float64); return int64(f) }
	register := func(name, pw string) (int64, error) {
		h, err := hash(pw)
		if err != nil {
			return 0, err
		}
		m, err := call(0, database.FnRegister, name, name+"@example.com", h)
		return id(m), err
	}
	aliceID, err := register(devUserA, st.AlicePassword)
	if err != nil {
		return fmt.Errorf("seed: register %s: %w", devUserA, err)
	}
	bobID, err := register(devUserB, st.BobPassword)
	if err != nil {
		return fmt.Errorf("seed: register %s: %w", devUserB, err)
	}

	var doctors []int64
	for _, d := range [][2]string{
		{"Dr. Asha Rao", "Cardiology"}, {"Dr. Daniel Okafor", "Dermatology"},
		{"Dr. Lena Fischer", "Pediatrics"}, {"Dr. Marco Rossi", "Cardiology"},
	} {
		m, err := call(adminID, database.FnCreateDoctor, d[0], d[1])
		if err != nil {
			return fmt.Errorf("seed: doctor %s: %w", d[0], err)
		}
		doctors = append(doctors, id(m))
	}
	type patient struct {
		owner  int64
		name   string
		age    int32
		gender string
		doctor []int
	}
	for _, p := range []patient{
		{aliceID, "Ravi Kumar", 42, "male", []int{0, 1}},
		{aliceID, "Meera Iyer", 35, "female", []int{2}},
		{bobID, "Tom Baker", 58, "male", []int{0, 3}},
		{bobID, "Sara Lind", 7, "female", []int{2}},
	} {
		m, err := call(p.owner, database.FnCreatePatient, p.name, p.age, p.gender)
		if err != nil {
			return fmt.Errorf("seed: patient %s: %w", p.name, err)
		}
		for _, d := range p.doctor {
			if _, err := call(p.owner, database.FnCreateMapping, id(m), doctors[d]); err != nil {
				return fmt.Errorf("seed: mapping: %w", err)
			}
		}
	}
	if _, err := dbadmin.GrantAccess(ctx, conn, dbadmin.Grant{User: devUserA, Role: devLinkedLogin, Password: st.LinkedPassword, Limits: limits}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	// The care team: drrao's account is Dr. Asha Rao's doctor record, to
	// which alice's Ravi Kumar (and bob's Tom Baker) are mapped; linked by
	// the admin as PUT /api/doctors/<id>/account/ does.
	drraoID, err := register(devDoctorUser, st.DrraoPassword)
	if err != nil {
		return fmt.Errorf("seed: register %s: %w", devDoctorUser, err)
	}
	if _, err := call(adminID, database.FnLinkDoctorAccount, doctors[0], drraoID); err != nil {
		return fmt.Errorf("seed: link %s: %w", devDoctorUser, err)
	}
	if _, err := dbadmin.GrantAccess(ctx, conn, dbadmin.Grant{User: devDoctorUser, Role: devDoctorLogin, Password: st.DrraoLinked, Limits: limits}); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	st.CareSeeded = true
	st.Seeded = true
	return st.save(dir)
}

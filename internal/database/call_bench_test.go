package database_test

import (
	"context"
	"encoding/json"
	"syscall"
	"testing"
	"time"

	"healthcare/internal/database"
	"healthcare/internal/pgtest"
)

// BenchmarkCall measures the database layer alone on the server's busiest
// route, GET /api/patients/<id>/: the identity batch and api.get_patient,
// from 32 goroutines as a loaded server would send them. Besides ns/op it
// reports this process's CPU per call (cpu-us/op): the part of a request's
// server CPU that the pool, pgx and the two socket calls take, without HTTP
// (docs/benchmarks.md compares it with the whole server).
func BenchmarkCall(b *testing.B) {
	db := openApp(b, pgtest.New(b), database.Options{})
	ctx := context.Background()
	id := database.Identity{UserID: registerUser(b, db, "bench"), RequestID: "bench"}
	raw, err := db.Call(ctx, id, database.FnCreatePatient, "Bench Patient", int32(40), "f")
	if err != nil {
		b.Fatal(err)
	}
	var p struct{ ID int64 }
	if err := json.Unmarshal(raw, &p); err != nil || p.ID <= 0 {
		b.Fatalf("create patient: %s (%v)", raw, err)
	}
	b.SetParallelism(16) // 16 x GOMAXPROCS goroutines: 32 on two cores
	before := cpuTime()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			out, err := db.Call(ctx, id, database.FnGetPatient, p.ID)
			if err != nil || len(out) == 0 {
				b.Errorf("get patient: %s (%v)", out, err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-before)/float64(time.Microsecond)/float64(b.N), "cpu-us/op")
}

// cpuTime is the user plus system CPU this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

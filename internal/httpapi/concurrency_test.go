package httpapi

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"healthcare/internal/apitest"
)

func TestFiftySimultaneousIdenticalMappingsStoreOne(t *testing.T) {
	t.Parallel()
	h := newRaceHarness(t)
	u := h.Signup("mia")
	patient := h.CreatePatient(u, "Mia", 20)
	doctor := h.CreateDoctor(u, "Dr. Who", "Time")

	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i] = h.Do("POST", "/api/mappings/", u.Access, map[string]any{"patient": patient, "doctor": doctor}).Status
		}()
	}
	close(start)
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("got %d created and %d conflicts of %d; statuses %v", created, conflicts, n, statuses)
	}
	var rows int
	err := h.tdb.Pool.QueryRow(context.Background(),
		"select count(*) from app.patient_doctors where patient_id = $1 and doctor_id = $2", patient, doctor).Scan(&rows)
	if err != nil || rows != 1 {
		t.Fatalf("stored rows = %d (%v), want 1", rows, err)
	}
}

func TestTwentyUsersCreatingAtOnceEachSeeOnlyTheirOwnTen(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	const users, each = 20, 10
	us := make([]apitest.User, users)
	for i := range us {
		us[i] = h.Signup("crowd")
	}
	created := make([][]int64, users)
	errs := make(chan error, users*each)
	var wg sync.WaitGroup
	for i := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				r := h.Do("POST", "/api/patients/", us[i].Access, map[string]any{"name": fmt.Sprintf("p%d-%d", i, j), "age": j})
				if r.Status != 201 {
					errs <- fmt.Errorf("user %d patient %d: status %d %s", i, j, r.Status, r.Body)
					continue
				}
				created[i] = append(created[i], r.ID(t, "id"))
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, u := range us {
		ids := h.Expect(h.Do("GET", "/api/patients/", u.Access, nil), 200, "list").IDs(t)
		slices.Sort(ids)
		slices.Sort(created[i])
		if !slices.Equal(ids, created[i]) || len(ids) != each {
			t.Errorf("user %d lists %v, created %v", i, ids, created[i])
		}
	}
}

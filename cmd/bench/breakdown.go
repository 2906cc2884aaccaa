package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// breakdownSettings load pg_stat_statements for --breakdown: every
// statement, nested ones included, and every function call are counted.
var breakdownSettings = map[string]string{
	"shared_preload_libraries":         "pg_stat_statements",
	"pg_stat_statements.track":         "all",
	"pg_stat_statements.max":           "10000",
	"track_functions":                  "all",
	"track_activity_query_size":        "1024",
	"pg_stat_statements.track_utility": "off",
}

// clusterSettingsFor is clusterSettings, with the statistics --breakdown
// reads when it is set.
func clusterSettingsFor(o options) map[string]string {
	s := maps.Clone(clusterSettings)
	if o.breakdown {
		maps.Copy(s, breakdownSettings)
	}
	return s
}

// breakdownConns are the loads under which wait events are sampled.
var breakdownConns = []int{16, 32}

// breakdown measures where route r's database time goes on side s: one
// connection through the side's own server for the statements and
// functions (per request: time and calls), then 16 and 32 connections for
// the wait events of the side's backends, sampled every 5 ms. It writes a
// Markdown section to w.
func breakdown(ctx context.Context, w io.Writer, e *env, s *abSide, r route, tokens []string, o options) error {
	conn, err := pgx.Connect(ctx, s.ds.superURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "create extension if not exists pg_stat_statements"); err != nil {
		return fmt.Errorf("breakdown needs pg_stat_statements (postgresql-contrib): %w", err)
	}
	if err := s.prepare(r, o.duration); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "select pg_stat_statements_reset(), pg_stat_reset()"); err != nil {
		return err
	}
	script, err := wrkScript(s.dir, r, tokens, s.p, 1)
	if err != nil {
		return err
	}
	m, err := runWrk(ctx, startCPU(e, s.srv), script, s.srv.url, 1, 1, o.duration)
	if err != nil {
		return err
	}
	if m.Requests == 0 {
		return fmt.Errorf("%s: no request answered", s.name)
	}
	// The server's pooled backends stay connected: idle, they report
	// their function counters within ten seconds (PostgreSQL 15).
	time.Sleep(11 * time.Second)
	n := float64(m.Requests)
	fmt.Fprintf(w, "\n#### %s, %s (%s)\n\n", r.Name, s.name, s.bin)
	fmt.Fprintf(w, "One connection: %.0f requests/s, PostgreSQL CPU %.0f µs and server CPU %.0f µs per request.\n\n",
		m.RPS, m.PostgresCPUus, m.ServerCPUus)
	rows, err := conn.Query(ctx, `
		select regexp_replace(left(query, 110), '\s+', ' ', 'g'), calls, total_exec_time
		  from pg_stat_statements
		 where dbid = (select oid from pg_database where datname = current_database()) and calls > 0
		 order by total_exec_time desc limit 12`)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "| statement (pg_stat_statements, track = all) | calls/req | µs/req |\n|---|---:|---:|\n")
	for rows.Next() {
		var q string
		var calls int64
		var total float64
		if err := rows.Scan(&q, &calls, &total); err != nil {
			return err
		}
		fmt.Fprintf(w, "| `%s` | %.2f | %.1f |\n", strings.ReplaceAll(q, "|", "\\|"), float64(calls)/n, total*1000/n)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = conn.Query(ctx, `
		select schemaname || '.' || funcname, calls, total_time, self_time
		  from pg_stat_user_functions where calls > 0 order by total_time desc limit 15`)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n| function (track_functions) | calls/req | total µs/req | self µs/req |\n|---|---:|---:|---:|\n")
	for rows.Next() {
		var f string
		var calls int64
		var total, self float64
		if err := rows.Scan(&f, &calls, &total, &self); err != nil {
			return err
		}
		fmt.Fprintf(w, "| `%s` | %.2f | %.1f | %.1f |\n", f, float64(calls)/n, total*1000/n, self*1000/n)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n| wait event (share of samples of the side's busy backends) |")
	for _, c := range breakdownConns {
		fmt.Fprintf(w, " %d conns |", c)
	}
	fmt.Fprintf(w, "\n|---|")
	for range breakdownConns {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintln(w)
	shares := map[string][]float64{}
	for i, c := range breakdownConns {
		if err := s.prepare(r, o.duration); err != nil {
			return err
		}
		script, err := wrkScript(s.dir, r, tokens, s.p, o.threads)
		if err != nil {
			return err
		}
		counts, total, err := sampleWaits(ctx, conn, s.ds.db, func() error {
			_, err := runWrk(ctx, startCPU(e, s.srv), script, s.srv.url, o.threads, c, o.duration)
			return err
		})
		if err != nil {
			return err
		}
		for k, v := range counts {
			if shares[k] == nil {
				shares[k] = make([]float64, len(breakdownConns))
			}
			shares[k][i] = 100 * float64(v) / float64(max(total, 1))
		}
	}
	keys := make([]string, 0, len(shares))
	for k := range shares {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return shares[keys[i]][0] > shares[keys[j]][0] })
	for _, k := range keys {
		fmt.Fprintf(w, "| %s |", k)
		for _, v := range shares[k] {
			fmt.Fprintf(w, " %.1f%% |", v)
		}
		fmt.Fprintln(w)
	}
	return nil
}

// sampleWaits runs load while sampling, every 5 ms, what the client
// backends of database db that are not idle are waiting for ("CPU" when
// nothing).
func sampleWaits(ctx context.Context, conn *pgx.Conn, db string, load func() error) (map[string]int, int, error) {
	counts := map[string]int{}
	total := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var sampleErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			rows, err := conn.Query(ctx, `
				select coalesce(wait_event_type || ':' || wait_event, 'CPU')
				  from pg_stat_activity
				 where datname = $1 and backend_type = 'client backend' and pid <> pg_backend_pid() and state <> 'idle'`, db)
			if err != nil {
				sampleErr = err
				return
			}
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					sampleErr = err
					return
				}
				counts[k]++
				total++
			}
			rows.Close()
		}
	}()
	err := load()
	close(stop)
	wg.Wait()
	if err == nil {
		err = sampleErr
	}
	return counts, total, err
}

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times; 100 on
// every Linux the bench runs on.
const clockTicks = 100

// procTimes returns a process's user+system CPU seconds and its parent
// pid from /proc/<pid>/stat; withChildren adds the time of its reaped
// children (cutime, cstime).
func procTimes(pid int, withChildren bool) (cpu float64, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state): utime is field 14 -> f[11].
	if len(f) < 15 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	var ticks int64
	n := 2
	if withChildren {
		n = 4
	}
	for _, v := range f[11 : 11+n] {
		t, _ := strconv.ParseInt(v, 10, 64)
		ticks += t
	}
	return float64(ticks) / clockTicks, ppid, true
}

// postgresCPU is the CPU seconds used so far by the cluster: the
// postmaster, its reaped children (backends of finished pgbench runs) and
// its live children.
//
// A child reaped while the children are being read would be in neither
// sum (its time moves into the postmaster's cutime after that was read,
// and its /proc entry is gone), and right after a load run dozens of
// backends exit at once. So the postmaster is read before and after the
// children, and the reading is retried until no child was reaped in
// between.
func (e *env) postgresCPU() float64 {
	b, err := os.ReadFile(filepath.Join(e.cluster.DataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pm, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return 0
	}
	var total float64
	for attempt := 0; attempt < 50; attempt++ {
		before, _, _ := procTimes(pm, true)
		total = before + childrenCPU(pm)
		if after, _, _ := procTimes(pm, true); after == before {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return total
}

// childrenCPU sums the CPU seconds of the live children of ppid.
func childrenCPU(parent int) float64 {
	var total float64
	entries, _ := os.ReadDir("/proc")
	for _, d := range entries {
		pid, err := strconv.Atoi(d.Name())
		if err != nil || pid == parent {
			continue
		}
		if t, ppid, ok := procTimes(pid, false); ok && ppid == parent {
			total += t
		}
	}
	return total
}

// cpuMeter samples the server's and PostgreSQL's CPU time around a load
// run; the load generator's comes from its exit status.
type cpuMeter struct {
	e      *env
	srv    *server
	s0, p0 float64
}

func startCPU(e *env, srv *server) *cpuMeter {
	m := &cpuMeter{e: e, srv: srv, p0: e.postgresCPU()}
	if srv != nil {
		m.s0, _, _ = procTimes(srv.cmd.Process.Pid, false)
	}
	return m
}

// stop fills the per-request CPU microseconds of m into out.
func (m *cpuMeter) stop(out *measurement, loadgen *exec.Cmd) {
	if out.Requests <= 0 {
		return
	}
	per := func(sec float64) float64 { return sec * 1e6 / float64(out.Requests) }
	out.PostgresCPUus = per(m.e.postgresCPU() - m.p0)
	if m.srv != nil {
		s1, _, _ := procTimes(m.srv.cmd.Process.Pid, false)
		out.ServerCPUus = per(s1 - m.s0)
	}
	if loadgen != nil && loadgen.ProcessState != nil {
		out.LoadgenCPUus = per((loadgen.ProcessState.UserTime() + loadgen.ProcessState.SystemTime()).Seconds())
	}
}

// Package metrics exposes the server's Prometheus metrics: requests by route
// pattern, method and status, request latency, connection pool statistics,
// and login failures and throttled logins.
//
// Labels are bounded on purpose: routes are patterns (never raw paths, which
// hold record ids), methods outside a fixed set become "OTHER", and no label
// carries a user, an address or anything else from a request. The package
// knows nothing about HTTP routing; cmd/healthcare feeds it from
// httpapi.Options.Observe.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// LoginRoute is the route pattern of the login endpoint: a 401 there is a
// failed login, a 429 a throttled one.
const LoginRoute = "/api/auth/login/"

// Metrics holds the collectors of one server process in their own registry,
// so tests can make as many as they like.
type Metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec
	duration       *prometheus.HistogramVec
	loginFailures  prometheus.Counter
	loginThrottled prometheus.Counter
	// series caches the children of requests and duration per label set
	// (seriesKey -> *series): the label sets are few and fixed (route
	// patterns, a bounded method set, status codes), and a cache hit skips
	// hashing the label values on every request.
	series sync.Map
}

type seriesKey struct {
	route, method string
	status        int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New registers the request and login metrics, the Go runtime and process
// collectors and, when stat is not nil, the pool statistics it returns
// (pass pool.Stat).
func New(stat func() *pgxpool.Stat) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "healthcare_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "healthcare_http_request_duration_seconds",
			Help: "Time from receiving a request to finishing its response, by route pattern and method.",
			// From sub-millisecond reads to the statement and acquire
			// timeouts (seconds).
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
		loginFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "healthcare_login_failures_total",
			Help: "Logins refused for a wrong username or password (401).",
		}),
		loginThrottled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "healthcare_login_throttled_total",
			Help: "Logins refused because the account or client address reached its failure limit (429).",
		}),
	}
	m.reg.MustRegister(m.requests, m.duration, m.loginFailures, m.loginThrottled,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if stat != nil {
		m.reg.MustRegister(poolCollector{stat: stat})
	}
	return m
}

// knownMethods bounds the method label: anything else is "OTHER".
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

// ObserveRequest records one finished request. route is the matched route
// pattern, "" when none matched.
func (m *Metrics) ObserveRequest(method, route string, status int, d time.Duration) {
	if route == "" {
		route = "unmatched"
	}
	if !knownMethods[method] {
		method = "OTHER"
	}
	key := seriesKey{route: route, method: method, status: status}
	v, ok := m.series.Load(key)
	if !ok {
		v, _ = m.series.LoadOrStore(key, &series{
			requests: m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
	if route == LoginRoute {
		switch status {
		case http.StatusUnauthorized:
			m.loginFailures.Inc()
		case http.StatusTooManyRequests:
			m.loginThrottled.Inc()
		}
	}
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// poolCollector reads pgxpool's statistics at scrape time, so the numbers
// are current and nothing runs between scrapes.
type poolCollector struct {
	stat func() *pgxpool.Stat
}

var (
	poolAcquired   = poolDesc("acquired_conns", "Connections currently borrowed by requests.")
	poolIdle       = poolDesc("idle_conns", "Open connections waiting in the pool.")
	poolTotal      = poolDesc("total_conns", "Open connections, borrowed, idle and being opened.")
	poolMax        = poolDesc("max_conns", "Configured maximum size of the pool.")
	poolAcquires   = poolDesc("acquires_total", "Successful connection acquisitions.")
	poolCanceled   = poolDesc("canceled_acquires_total", "Acquisitions given up (acquire timeout or client gone); these answer 503.")
	poolEmpty      = poolDesc("empty_acquires_total", "Acquisitions that had to wait because no connection was idle.")
	poolWait       = poolDesc("empty_acquire_wait_seconds_total", "Time spent waiting in acquisitions that found the pool empty.")
	poolAcquireDur = poolDesc("acquire_seconds_total", "Time spent in successful acquisitions.")
	poolNew        = poolDesc("new_conns_total", "Connections opened.")
)

func poolDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc("healthcare_db_pool_"+name, help, nil, nil)
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires,
		poolCanceled, poolEmpty, poolWait, poolAcquireDur, poolNew} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(poolAcquired, float64(s.AcquiredConns()))
	gauge(poolIdle, float64(s.IdleConns()))
	gauge(poolTotal, float64(s.TotalConns()))
	gauge(poolMax, float64(s.MaxConns()))
	counter(poolAcquires, float64(s.AcquireCount()))
	counter(poolCanceled, float64(s.CanceledAcquireCount()))
	counter(poolEmpty, float64(s.EmptyAcquireCount()))
	counter(poolWait, s.EmptyAcquireWaitTime().Seconds())
	counter(poolAcquireDur, s.AcquireDuration().Seconds())
	counter(poolNew, float64(s.NewConnsCount()))
}

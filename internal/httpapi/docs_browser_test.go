package httpapi

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"healthcare/internal/apidocs"
)

// findChromium returns Debian's chromium (or another Chromium-based
// browser on PATH), "" when there is none.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// swaggerProblems finds what Swagger UI shows when something is wrong with
// the document or its loading: the red "Errors" pane and "Warning" boxes
// (both .errors-wrapper), and "Failed to load API definition". It returns
// their texts.
const swaggerProblems = `Array.from(document.querySelectorAll(
	".swagger-ui .errors-wrapper, .swagger-ui .error-wrapper, .swagger-ui .loading-container .errors"))
	.map(function (e) { return e.textContent.trim(); })
	.concat(document.body.textContent.indexOf("Failed to load API definition") >= 0 ? ["Failed to load API definition"] : [])`

// TestDocsPageInChromium drives GET /api/docs/ in headless Chromium: the
// page loads with no failed request and no request to any other host,
// shows no Swagger error or warning box (checked when the operations appear
// and again after a call), lists every route of the route table, and a call made from the page
// with a bearer token (Authorize, then "Try it out" on GET /api/auth/me/)
// answers 200 with the caller's account.
func TestDocsPageInChromium(t *testing.T) {
	t.Parallel()
	browser := findChromium()
	if browser == "" {
		t.Skip("Chromium is not installed (apt-get install chromium; .ci/run installs it): the API docs page is not tested in a browser")
	}
	h := newHarness(t)
	u := h.Signup("docs")
	base, err := url.Parse(h.BaseURL)
	if err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(browser),
		chromedp.Headless,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profileDir(t)),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.WindowSize(1280, 2000),
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to sandbox as root
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(allocCtx)
	defer cancelBrowser()

	// Every request the page makes, and every one that failed.
	var mu sync.Mutex
	var requested, failed []string
	urls := map[network.RequestID]string{}
	chromedp.ListenTarget(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls[e.RequestID] = e.Request.URL
			requested = append(requested, e.Request.Method+" "+e.Request.URL)
		case *network.EventLoadingFailed:
			failed = append(failed, fmt.Sprintf("%s: %s %s", urls[e.RequestID], e.ErrorText, e.BlockedReason))
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				failed = append(failed, fmt.Sprintf("%s: HTTP %d", e.Response.URL, int(e.Response.Status)))
			}
		}
	})

	const me = "#operations-auth-me"
	var listed, problems, problemsLater []string
	var status, body string
	err = chromedp.Run(bctx,
		network.Enable(),
		chromedp.Navigate(h.BaseURL+apidocs.Path),
		chromedp.WaitVisible(".opblock", chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll(".opblock")).map(function (op) {
			return op.querySelector(".opblock-summary-method").textContent.trim() + " " +
			       op.querySelector(".opblock-summary-path").getAttribute("data-path");
		})`, &listed),
		chromedp.Evaluate(swaggerProblems, &problems),

		// Authorize with the access token, as a person would.
		chromedp.Click(".auth-wrapper .authorize", chromedp.ByQuery),
		chromedp.WaitVisible(".modal-ux input", chromedp.ByQuery),
		chromedp.SendKeys(".modal-ux input", u.Access, chromedp.ByQuery),
		chromedp.Click(".modal-ux .auth-btn-wrapper .authorize", chromedp.ByQuery),
		chromedp.Click(".modal-ux .auth-btn-wrapper .btn-done", chromedp.ByQuery),
		chromedp.WaitNotPresent(".modal-ux", chromedp.ByQuery),

		// Try GET /api/auth/me/ from the page.
		chromedp.Click(me+" .opblock-summary-control", chromedp.ByQuery),
		chromedp.WaitVisible(me+" .try-out__btn", chromedp.ByQuery),
		chromedp.Click(me+" .try-out__btn", chromedp.ByQuery),
		chromedp.WaitVisible(me+" .execute", chromedp.ByQuery),
		chromedp.Click(me+" .execute", chromedp.ByQuery),
		chromedp.WaitVisible(me+" .live-responses-table tbody .response-col_status", chromedp.ByQuery),
		chromedp.Text(me+" .live-responses-table tbody .response-col_status", &status, chromedp.ByQuery),
		chromedp.Text(me+" .live-responses-table tbody .response-col_description", &body, chromedp.ByQuery),
		chromedp.Evaluate(swaggerProblems, &problemsLater),
	)
	if err != nil {
		mu.Lock()
		t.Fatalf("driving the docs page: %v\nrequests: %v\nfailed: %v", err, requested, failed)
	}

	if p := append(problems, problemsLater...); len(p) > 0 {
		t.Errorf("the docs page shows Swagger errors or warnings: %q", p)
	}
	// Every route of the table is listed, as the document spells paths,
	// and nothing else (an operation with two tags is shown twice).
	distinct := slices.Compact(slices.Sorted(slices.Values(listed)))
	if len(distinct) != len(Routes()) {
		t.Errorf("the docs page lists %d operations, the route table has %d: %v", len(distinct), len(Routes()), distinct)
	}
	for _, rt := range Routes() {
		want := strings.ToUpper(rt.Method) + " " + paramRE.ReplaceAllString(rt.Path, "{$1}")
		if !slices.Contains(listed, want) {
			t.Errorf("the docs page does not list %s (it lists %v)", want, listed)
		}
	}
	if status = strings.TrimSpace(status); status != "200" || !strings.Contains(body, u.Name) {
		t.Errorf("GET /api/auth/me/ from the page: status %q, body %q; want 200 with %s's account", status, body, u.Name)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(failed) > 0 {
		t.Errorf("failed requests: %v", failed)
	}
	var calledMe bool
	for _, r := range requested {
		method, raw, _ := strings.Cut(r, " ")
		ru, err := url.Parse(raw)
		if err != nil || (ru.Scheme != "data" && ru.Host != base.Host) {
			t.Errorf("the page requested %s, outside the server %s", raw, base.Host)
		}
		if method == "GET" && ru != nil && ru.Host == base.Host && ru.Path == "/api/auth/me/" {
			calledMe = true
		}
	}
	if !calledMe {
		t.Errorf("the page never called GET /api/auth/me/ on the server; requests: %v", requested)
	}
}

// profileDir is a fresh Chromium profile folder, removed after the test
// once Chromium has let go of it: t.TempDir's own cleanup can run while the
// browser's last writes are still landing and fail on "directory not
// empty".
func profileDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "healthcare-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for i := 0; i < 50; i++ {
			if err := os.RemoveAll(dir); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("could not remove the Chromium profile %s", dir)
	})
	return dir
}

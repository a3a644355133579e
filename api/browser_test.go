//go:build browser

package api_test

// The dashboard in real headless Chromium (Debian's chromium package),
// driven over the DevTools protocol by chromedp:
//
//	go test -tags browser -run TestBrowser ./api/
//
// It logs in as a regulator, filters the anomaly list down to new clones,
// opens the clone, checks the pack's chain of custody, moves the anomaly
// to investigating; then looks the dispensed clone up by pasting its GS1
// string and sees its chain of custody, locks another pack (whose next
// verification is then refused) and flags an anomaly about it by hand.
// A screenshot of each step goes under $PHARMATRACE_ARTIFACTS (default
// test/artifacts/ at the repository root).
//
// Against a running API (the real network behind it), set
// PHARMATRACE_API_URL (e.g. http://127.0.0.1:8080) and
// PHARMATRACE_API_TOKEN (a regulator's token); PHARMATRACE_CLONE_ID may
// name the clone anomaly to open (default: the first new CLONE listed),
// PHARMATRACE_CLONE_GTIN its GTIN, to filter on, PHARMATRACE_CLONE_GS1 the
// clone's GS1 string to paste into the pack lookup and PHARMATRACE_LOCK_GS1
// the GS1 string of an active pack to lock.
// Without PHARMATRACE_API_URL the test serves the API in-process on the
// in-memory ledger (package memledger: the real contract on an in-memory peer) with the demo flow — not the acceptance
// run.

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/api/internal/memledger"
	"github.com/pharmatrace/pharmatrace/api/readmodel"
	"github.com/pharmatrace/pharmatrace/trace"
)

func chromiumPath() string {
	if p := os.Getenv("PHARMATRACE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

func artifactsDir(t *testing.T) string {
	dir := os.Getenv("PHARMATRACE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "test", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestBrowserRegulatorWorkflow(t *testing.T) {
	bin := chromiumPath()
	if bin == "" {
		t.Skip("Chromium not installed (Debian: apt-get install chromium; .ci/run installs it)")
	}
	base, token, cloneID := os.Getenv("PHARMATRACE_API_URL"), os.Getenv("PHARMATRACE_API_TOKEN"), os.Getenv("PHARMATRACE_CLONE_ID")
	cloneGS1, lockGS1 := os.Getenv("PHARMATRACE_CLONE_GS1"), os.Getenv("PHARMATRACE_LOCK_GS1")
	if base == "" {
		// The demo's clone (dispensed at pharm-central, then at
		// pharm-station) and a pack wh-north holds.
		cloneGS1 = "(01)" + memledger.DemoGTIN + "(17)301231(10)" + memledger.DemoLot + "(21)SA00001"
		lockGS1 = "(01)" + memledger.DemoGTIN + "(17)301231(10)" + memledger.DemoLot + "(21)SA00004"
		t.Log("PHARMATRACE_API_URL not set: serving the API in-process on the in-memory ledger (not the acceptance run)")
		h := newHarness(t, withConfig(func(c *api.Config) { c.DashboardSyncWait = 3 * time.Second }))
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- readmodel.NewConsumer(h.store, h.sim).Run(ctx) }()
		t.Cleanup(func() { cancel(); <-done })
		base, token = h.ts.URL, h.tokens[trace.RoleRegulator]
	} else if token == "" {
		t.Fatal("PHARMATRACE_API_URL is set but PHARMATRACE_API_TOKEN (a regulator's token) is not")
	}
	out := artifactsDir(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelCtx()
	// The first action starts the browser: no timeout on its context.
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/dashboard/login")); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	ctx, cancelT := context.WithTimeout(bctx, 90*time.Second)
	defer cancelT()

	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			png, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			p := filepath.Join(out, name)
			t.Logf("screenshot %s", p)
			return os.WriteFile(p, png, 0o644)
		})
	}
	// afterNav waits for sel once a click has started a navigation: while
	// the page is being replaced, DevTools answers "Not attached to an
	// active page", which is retried.
	afterNav := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for {
				err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel)))
				if err == nil || !strings.Contains(err.Error(), "Not attached") || ctx.Err() != nil {
					return err
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}

	// Log in.
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("login-submit")),
		afterNav("#anomaly-table"),
		shot("dashboard-1-anomalies.png"),
	)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if who := text("#who"); !strings.Contains(who, "regulator") {
		t.Fatalf("logged in as %q", who)
	}

	// Filter: new clones only (and, on a busy real ledger, of the
	// scenario's GTIN, PHARMATRACE_CLONE_GTIN).
	row := `tr[data-type="CLONE"]`
	if cloneID != "" {
		row = `tr[data-id="` + cloneID + `"]`
	}
	filter := []chromedp.Action[chromedp.Void]{
		chromedp.SetValue(chromedp.ID("f-type"), "CLONE"),
		chromedp.SetValue(chromedp.ID("f-status"), "new"),
	}
	if gtin := os.Getenv("PHARMATRACE_CLONE_GTIN"); gtin != "" {
		filter = append(filter, chromedp.SetValue(chromedp.ID("f-gtin"), gtin))
	}
	err = chromedp.Do(ctx, append(filter,
		chromedp.Click(chromedp.ID("f-apply")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			for { // the filtered page has loaded when the URL carries the filter
				loc, err := chromedp.Location()(ctx, tg)
				if err == nil && strings.Contains(loc, "type=CLONE") || ctx.Err() != nil {
					return ctx.Err()
				}
				time.Sleep(50 * time.Millisecond)
			}
		}),
		afterNav(row),
		shot("dashboard-2-filtered.png"),
	)...)
	if err != nil {
		t.Fatalf("filter: %v", err)
	}
	types, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#anomaly-table tbody tr[data-type]")).map(r => r.dataset.type)`))
	if err != nil {
		t.Fatal(err)
	}
	if len(types) == 0 {
		t.Fatal("no clone listed")
	}
	for _, ty := range types {
		if ty != "CLONE" {
			t.Errorf("filtered list shows a %s", ty)
		}
	}
	if loc, err := chromedp.Run(ctx, chromedp.Location()); err == nil {
		if u, _ := url.Parse(loc); u == nil || u.Query().Get("type") != "CLONE" {
			t.Errorf("filter not in the URL: %s", loc)
		}
	}

	// Open the clone.
	sel := `tr[data-type="CLONE"] a.open`
	if cloneID != "" {
		sel = `tr[data-id="` + cloneID + `"] a.open`
	}
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(sel)),
		afterNav("#timeline"),
		shot("dashboard-3-clone-detail.png"),
	)
	if err != nil {
		t.Fatalf("open the clone: %v", err)
	}
	id, timeline, status := text("#anomaly-id"), text("#timeline"), text("#anomaly-status")
	if status != "new" || !strings.Contains(timeline, "Dispense") || !strings.Contains(timeline, "CLONE") {
		t.Errorf("detail of %s: status %q, timeline %q", id, status, timeline)
	}

	// Move it to investigating.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form.wf input[name="comment"]`), "browser test: investigating"),
		chromedp.Click(chromedp.ID("to-investigating")),
		afterNav("#flash"),
		shot("dashboard-4-investigating.png"),
	)
	if err != nil {
		t.Fatalf("move to investigating: %v", err)
	}
	if status, flash := text("#anomaly-status"), text("#flash"); status != "investigating" || !strings.Contains(flash, "investigating") {
		t.Errorf("after the action: status %q, flash %q", status, flash)
	}
	if hist := text("#history"); !strings.Contains(hist, "browser test: investigating") {
		t.Errorf("history lacks the comment: %q", hist)
	}
	if cloneGS1 == "" || lockGS1 == "" {
		t.Log("PHARMATRACE_CLONE_GS1 or PHARMATRACE_LOCK_GS1 not set: pack lookup, lock and flag not tried")
		return
	}

	// Look the dispensed clone up by pasting its GS1 string.
	lookup := func(code, shotName string) error {
		return chromedp.Do(ctx,
			chromedp.Click(chromedp.ID("nav-packs")),
			afterNav("#lookup-code"),
			chromedp.SendKeys(chromedp.ID("lookup-code"), code),
			chromedp.Click(chromedp.ID("lookup-submit")),
			afterNav("#pack-state"),
			shot(shotName),
		)
	}
	if err := lookup(cloneGS1, "dashboard-5-lookup-clone.png"); err != nil {
		t.Fatalf("look up the clone: %v", err)
	}
	if st, tl := text("#pack-state"), text("#timeline"); !strings.Contains(st, "dispensed") || !strings.Contains(tl, "Dispense") || !strings.Contains(tl, "CLONE") {
		t.Errorf("clone lookup: state %q, chain of custody %q", st, tl)
	}
	if v := text("#verify-outcome"); !strings.Contains(v, "REFUSED") {
		t.Errorf("clone lookup verdict: %q", v)
	}

	// Lock another pack: the page's confirm() is answered yes.
	if err := lookup(lockGS1, "dashboard-6-lookup-pack.png"); err != nil {
		t.Fatalf("look up the pack to lock: %v", err)
	}
	if v := text("#verify-outcome"); !strings.Contains(v, "may be supplied") {
		t.Fatalf("the pack to lock does not verify before the lock: %q", v)
	}
	err = chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`window.confirm = function () { return true; }; true`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.ID("lock")),
		afterNav("#flash"),
		shot("dashboard-7-locked.png"),
	)
	if err != nil {
		t.Fatalf("lock: %v", err)
	}
	if st, flash := text("#pack-state"), text("#flash"); !strings.Contains(st, "locked") || !strings.Contains(flash, "locked") {
		t.Errorf("after the lock: state %q, flash %q", st, flash)
	}
	// Its next verification is refused.
	if err := lookup(lockGS1, "dashboard-8-locked-verify.png"); err != nil {
		t.Fatalf("verify the locked pack: %v", err)
	}
	if v := text("#verify-outcome"); !strings.Contains(v, "REFUSED") {
		t.Errorf("verification of the locked pack: %q", v)
	}

	// Flag an anomaly about it by hand.
	const msg = "browser test: pack offered on a website"
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("flag-pack")),
		afterNav("#flag-message"),
		chromedp.SetValue(chromedp.ID("flag-classification"), "diversion"),
		chromedp.SendKeys(chromedp.ID("flag-message"), msg),
		shot("dashboard-9-flag-form.png"),
		chromedp.Click(chromedp.ID("flag-submit")),
		afterNav("#anomaly-id"),
		shot("dashboard-10-flagged.png"),
	)
	if err != nil {
		t.Fatalf("flag an anomaly: %v", err)
	}
	if id, status := text("#anomaly-id"), text("#anomaly-status"); !strings.HasPrefix(id, "AN-") || status != "new" {
		t.Errorf("flagged anomaly %q in status %q", id, status)
	}
	body, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil || !strings.Contains(body, msg) || !strings.Contains(body, "diversion") {
		t.Errorf("the flagged anomaly's page lacks its message or classification (%v)", err)
	}
	t.Logf("flagged anomaly %s", text("#anomaly-id"))

	// Lots at risk and packs by state.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("nav-lots")),
		afterNav("#lots-table"),
		shot("dashboard-11-lots-at-risk.png"),
		chromedp.Click(chromedp.ID("nav-states")),
		afterNav("#states-chart svg"),
		shot("dashboard-12-packs-by-state.png"),
	)
	if err != nil {
		t.Fatalf("lots at risk, packs by state: %v", err)
	}
	if st := text("#states-table"); !strings.Contains(st, "dispensed") || !strings.Contains(st, "locked") {
		t.Errorf("packs by state: %q", st)
	}
}

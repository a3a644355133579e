package api_test

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/pharmatrace/pharmatrace/api"
	"github.com/pharmatrace/pharmatrace/trace"
)

// TestManufacturerSeesAnomaliesAboutItsProducts: the clone a pharmacy
// raised on mfr-alpha's pack is listed and readable by mfr-alpha, not by
// mfr-beta (same MSP, another company prefix) nor by a distributor.
func TestManufacturerSeesAnomaliesAboutItsProducts(t *testing.T) {
	h := newHarness(t)
	clone := "/api/v1/anomalies/" + url.PathEscape(h.demo.Clone)
	has := func(l api.AnomalyList, id string) bool {
		for _, a := range l.Items {
			if a.ID == id {
				return true
			}
		}
		return false
	}
	var l api.AnomalyList
	h.do(request{method: http.MethodGet, path: "/api/v1/anomalies?type=CLONE", role: trace.RoleManufacturer}).json(t, &l)
	if !has(l, h.demo.Clone) {
		t.Errorf("mfr-alpha does not list the clone of its pack: %+v", l)
	}
	if r := h.do(request{method: http.MethodGet, path: clone, role: trace.RoleManufacturer}); r.status != http.StatusOK {
		t.Errorf("mfr-alpha reads the clone: %d %s", r.status, r.body)
	}
	beta := h.tokenFor(mfrBeta)
	l = api.AnomalyList{}
	h.do(request{method: http.MethodGet, path: "/api/v1/anomalies", token: beta}).json(t, &l)
	if len(l.Items) != 0 {
		t.Errorf("mfr-beta lists %d anomalies about mfr-alpha's products", len(l.Items))
	}
	expectProblem(t, h.do(request{method: http.MethodGet, path: clone, token: beta}), 404, api.ProbNotFound, "")
	expectProblem(t, h.do(request{method: http.MethodGet, path: clone, role: trace.RoleDistributor}), 404, api.ProbNotFound, "")
}

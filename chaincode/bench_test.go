package chaincode_test

import (
	"fmt"
	"testing"

	"github.com/pharmatrace/pharmatrace/trace"
)

// BenchmarkCommissionPacks measures one CommissionPacks transaction
// (endorsement through contractapi's dispatch + commit in the in-memory
// ledger) for batch sizes around the limit.
func BenchmarkCommissionPacks(b *testing.B) {
	for _, size := range []int{1000, 5000, 10000} {
		b.Run(fmt.Sprintf("serials=%d", size), func(b *testing.B) {
			cfg := testConfig()
			cfg.MaxCommission = trace.HardMaxCommission
			n := newNetWith(b, cfg)
			n.registerProduct(mfgA, gtinA)
			var writeBytes, eventBytes, argBytes int
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				serials := make([]string, size)
				for j := range serials {
					serials[j] = fmt.Sprintf("B%06dS%06d", i, j)
				}
				req := trace.CommissionPacksRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()}, GTIN: gtinA,
					Lot: fmt.Sprintf("LOT%d", i), Expiry: expiry, Serials: serials}
				r := n.submit(mfgA, "CommissionPacks", req)
				if !r.Committed() {
					b.Fatalf("%d %s", r.Status, r.Message)
				}
				writeBytes, eventBytes, argBytes = r.WriteBytes, len(r.Event.Payload), len(mustJSON(b, req))
			}
			b.ReportMetric(float64(size*b.N)/b.Elapsed().Seconds(), "packs/s")
			b.ReportMetric(float64(writeBytes), "writeset-B")
			b.ReportMetric(float64(eventBytes), "event-B")
			b.ReportMetric(float64(argBytes), "arg-B")
		})
	}
}

// BenchmarkDispense measures one Dispense transaction of a pack held by the
// dispensing pharmacy.
func BenchmarkDispense(b *testing.B) {
	n := newNet(b)
	n.registerProduct(mfgA, gtinA)
	const batch = 5000
	var serials []string
	for len(serials) < b.N {
		batchSerials := make([]string, batch)
		for j := range batchSerials {
			batchSerials[j] = fmt.Sprintf("D%07d", len(serials)+j)
		}
		lot := fmt.Sprintf("LD%d", len(serials)/batch)
		n.commission(mfgA, gtinA, lot, expiry, batchSerials...)
		id := "BS-" + lot
		n.ship(mfgA, ph1, id, refs(gtinA, batchSerials...))
		n.receive(ph1, id, refs(gtinA, batchSerials...))
		serials = append(serials, batchSerials...)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := n.submit(ph1, "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: n.reqID()},
			Scan: scan(gtinA, serials[i], fmt.Sprintf("LD%d", i/batch), expiry)})
		if !r.Committed() || r.Writes != 2 || r.Reads != 3 {
			b.Fatalf("%d %s: %d reads, %d writes", r.Status, r.Message, r.Reads, r.Writes)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}

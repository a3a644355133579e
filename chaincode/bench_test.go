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

// BenchmarkCounter measures the pharmacy counter's two ledger calls on the
// contract alone (endorsement through contractapi's dispatch on the
// in-memory peer): Verify (a query) and Dispense (simulated and committed),
// on a lot of 1,000 packs. make bench runs the network-level figures.
func BenchmarkCounter(b *testing.B) {
	n := newNet(b)
	n.registerProduct(mfgA, gtinA)
	serials := make([]string, 1000)
	for i := range serials {
		serials[i] = fmt.Sprintf("C%05d", i)
	}
	n.commission(mfgA, gtinA, "L1", expiry, serials...)
	n.ship(mfgA, ph1, "SH-B", refs(gtinA, serials...))
	n.receive(ph1, "SH-B", refs(gtinA, serials...))
	b.Run("verify", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if r := n.evaluate(ph1, "Verify", trace.VerifyRequest{Scan: scan(gtinA, serials[i%len(serials)], "L1", expiry)}); !r.OK() {
				b.Fatal(r.Message)
			}
		}
	})
	b.Run("dispense", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			s := serials[i%len(serials)]
			r := n.submit(ph1, "Dispense", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: fmt.Sprintf("bd-%d", i)}, Scan: scan(gtinA, s, "L1", expiry)})
			if !r.Committed() {
				b.Fatal(r.Message)
			}
			if i%len(serials) == len(serials)-1 { // every pack dispensed once: undo them all
				b.StopTimer()
				for _, s := range serials {
					n.submit(ph1, "Undo", trace.ScanRequest{RequestHeader: trace.RequestHeader{RequestID: fmt.Sprintf("bu-%d-%s", i, s)}, Scan: scan(gtinA, s, "L1", expiry)})
				}
				b.StartTimer()
			}
		}
	})
}

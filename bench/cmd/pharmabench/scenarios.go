package main

// scenarios run in this order; later ones compare against the baseline.
var scenarios = []scenario{
	{"baseline", baseline},
	{"dispense", dispense},
	{"bulk-baseline", bulkBaseline},
	{"bulk", bulk},
	{"api", apiVerify},
	{"api-bulk", apiBulkDispense},
	{"agent", scanToVerdict},
	{"gs1", gs1Micro},
}

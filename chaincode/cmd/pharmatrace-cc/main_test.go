package main

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestRunRejectsBadConfig(t *testing.T) {
	env := map[string]string{
		"CHAINCODE_ID":             "pharmatrace:abc",
		"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",
		"CHAINCODE_TLS_DISABLED":   "true",
		"PHARMATRACE_ORG_ROLES":    "PharmacyMSP=wizard",
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	err := run(context.Background(), func(k string) string { return env[k] }, log)
	if err == nil || !strings.Contains(err.Error(), "PHARMATRACE_ORG_ROLES") {
		t.Fatalf("got %v", err)
	}
	env["PHARMATRACE_ORG_ROLES"] = ""
	env["PHARMATRACE_MAX_COMMISSION"] = "20000"
	if err := run(context.Background(), func(k string) string { return env[k] }, log); err == nil || !strings.Contains(err.Error(), "PHARMATRACE_MAX_COMMISSION") {
		t.Fatalf("got %v", err)
	}
}

func TestRunServesUntilCancelled(t *testing.T) {
	env := map[string]string{
		"CHAINCODE_ID":             "pharmatrace:abc",
		"CHAINCODE_SERVER_ADDRESS": "127.0.0.1:0",
		"CHAINCODE_TLS_DISABLED":   "true",
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := run(ctx, func(k string) string { return env[k] }, log); err != nil {
		t.Fatal(err)
	}
}

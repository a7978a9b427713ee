package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/glidepath/glidepath/rollback/etcdstore/internal/etcdtest"
)

func TestMain(m *testing.M) {
	if os.Getenv(replicaEnv) != "" { // this test binary runs as a replica
		main()
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

func TestReplicaBFinishesTheKilledRelease(t *testing.T) {
	if _, err := etcdtest.Binary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	var out bytes.Buffer
	if err := run(&out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{
		"replica-a killed in the middle of the release",
		"[replica-b] taking over v1->v2 (v1 -> v2) from replica-a",
		"[replica-b] finished v1->v2 Promoted",
		"target now serves v2",
		"history: v1->v2 Promoted, resumed 1 time(s)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
}

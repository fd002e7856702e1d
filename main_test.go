package realtime_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(childHubEnv) != "" {
		os.Exit(runChildHub())
	}
	goleak.VerifyTestMain(m)
}

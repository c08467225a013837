package redisconn_test

import (
	"context"
	"os"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/testenv"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials to stderr; the tests of dead servers
	// provoke them on purpose.
	redis.SetLogger(discardLogger{})
	os.Exit(testenv.Main(m))
}

type discardLogger struct{}

func (discardLogger) Printf(context.Context, string, ...any) {}

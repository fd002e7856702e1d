package redisadapter

import (
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// ClientOptionsFromEnv returns the options of a Redis client read from the
// environment, for hosts configured by variables:
//
//	REDIS_URL       redis://[:password@]host:port/db; when set, the rest is not read
//	REDIS_HOST      default 127.0.0.1
//	REDIS_PORT      default 6379
//	REDIS_PASSWORD  default none
//	REDIS_DB        default 0
//
// A malformed variable is an error naming it.
func ClientOptionsFromEnv() (*redis.Options, error) {
	if u := os.Getenv("REDIS_URL"); u != "" {
		o, err := redis.ParseURL(u)
		if err != nil {
			return nil, fmt.Errorf("redisadapter: REDIS_URL: %w", err)
		}
		return o, nil
	}
	host, port := os.Getenv("REDIS_HOST"), os.Getenv("REDIS_PORT")
	if host == "" {
		host = "127.0.0.1"
	}
	if port == "" {
		port = "6379"
	} else if n, err := strconv.Atoi(port); err != nil || n <= 0 || n > 65535 {
		return nil, fmt.Errorf("redisadapter: REDIS_PORT=%q is not a port", port)
	}
	db := 0
	if v := os.Getenv("REDIS_DB"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("redisadapter: REDIS_DB=%q is not a database number", v)
		}
		db = n
	}
	return &redis.Options{Addr: net.JoinHostPort(host, port), Password: os.Getenv("REDIS_PASSWORD"), DB: db}, nil
}

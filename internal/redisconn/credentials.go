package redisconn

import (
	"os"
	"strings"
	"sync"
	"time"
)

// maxPasswordFile caps what [FileCredentials] reads.
const maxPasswordFile = 64 << 10

// FileCredentials gives the Redis client its user and password when the
// password lives in a file (redis.password: file:PATH). The client asks on
// every new connection, never per command; each time, one stat tells
// whether the file changed (modification time, size, inode — an atomic
// rewrite always makes a new inode), and only then is it read again. So
// after the file is rewritten, connections already authenticated keep
// working and every new one authenticates with the new password, with no
// restart. If the file cannot be read, or is empty, the last good password
// is used. Safe for concurrent use.
type FileCredentials struct {
	user, path string

	mu    sync.Mutex
	pw    string
	stamp fileStamp
}

type fileStamp struct {
	mod  time.Time
	size int64
	ino  uint64
}

// NewFileCredentials returns the credentials of user with the password in
// path; initial is the password read at start.
func NewFileCredentials(user, path, initial string) *FileCredentials {
	c := &FileCredentials{user: user, path: path, pw: initial}
	if fi, err := os.Stat(path); err == nil {
		c.stamp = stampOf(fi)
	}
	return c
}

// Get returns the user and the current password; it is the go-redis
// CredentialsProvider.
func (c *FileCredentials) Get() (username, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil || stampOf(fi) == c.stamp || fi.Size() > maxPasswordFile {
		return c.user, c.pw
	}
	b, err := os.ReadFile(c.path)
	if pw := strings.TrimRight(string(b), "\r\n"); err == nil && pw != "" {
		c.pw, c.stamp = pw, stampOf(fi)
	}
	return c.user, c.pw
}

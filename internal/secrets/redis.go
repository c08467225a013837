package secrets

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tars-ops/tarsctl/internal/auth"
	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/redisconn"
)

// Errors of the Redis password rotation, for errors.Is.
var (
	// ErrRedisPasswordNotInFile: redis.password is a literal or env:NAME,
	// which tarsctl cannot change under running daemons.
	ErrRedisPasswordNotInFile = errors.New("the Redis password is not kept in a file")
	// ErrRedisPermission: Redis refused the credentials or the ACL command.
	// It is [redisconn.ErrPermission], which classifies go-redis's errors.
	ErrRedisPermission = redisconn.ErrPermission
	// ErrRedisUnreachable: no connection to Redis; [redisconn.ErrUnreachable].
	ErrRedisUnreachable = redisconn.ErrUnreachable
	// ErrRedisUnsupported: a setup the rotation does not handle.
	ErrRedisUnsupported = errors.New("unsupported redis setup")
)

// Steps of [RotateRedisPassword], in order; the names are the JSON output's.
const (
	StepRedisCheck        = "check"               // the old password authenticates, the admin may run ACL
	StepRedisAddNew       = "add_new"             // ACL SETUSER user >NEW: both passwords work
	StepRedisWrite        = "write"               // the store holds NEW
	StepRedisDaemons      = "daemons"             // running daemons use NEW for new connections
	StepRedisVerifyNew    = "verify_new"          // AUTH user NEW + PING on a fresh connection
	StepRedisRemoveOld    = "remove_old"          // ACL SETUSER user <OLD
	StepRedisVerifyOldBad = "verify_old_rejected" // AUTH user OLD fails with WRONGPASS
)

// PasswordStore is where the daemons read the Redis password: a file on
// this host ([FileStore]) or a Kubernetes Secret.
type PasswordStore interface {
	// String names the store in steps and errors ("file /run/tars/redis_password").
	String() string
	// Read returns the password the daemons use now.
	Read(ctx context.Context) (string, error)
	// Write stores pw and makes the daemons use it (a restart, or nothing
	// when they re-read the store); it says what became of them. old is
	// the password Read returned, for a store that must check nobody
	// changed it meanwhile.
	Write(ctx context.Context, old, pw string) (daemons string, err error)
	// Restore puts old back after Write was called with pw, whether Write
	// failed or a later step did. It must be a no-op when old is in place.
	Restore(ctx context.Context, old, pw string) error
}

// FileStore is a password file the daemons re-read for every new
// connection (redis.password: file:PATH).
type FileStore struct {
	Path string
	// Daemons, when set, runs after the file is written and reports on
	// the running daemons; an error rolls the rotation back.
	Daemons func(ctx context.Context) (string, error)
}

func (f FileStore) String() string { return "file " + f.Path }

func (f FileStore) Read(context.Context) (string, error) {
	b, err := readSecret(f.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("%w: password file %s does not exist", ErrRedisPasswordNotInFile, f.Path)
	case err != nil:
		return "", fmt.Errorf("read redis password file: %w", err)
	}
	return string(b), nil
}

func (f FileStore) Write(ctx context.Context, _, pw string) (string, error) {
	if err := auth.ReplaceSecretFile(f.Path, []byte(pw+"\n")); err != nil {
		return "", fmt.Errorf("write %s: %w", f.Path, err)
	}
	if f.Daemons == nil {
		return "daemons re-read the file for every new connection", nil
	}
	return f.Daemons(ctx)
}

func (f FileStore) Restore(_ context.Context, old, _ string) error {
	if err := auth.ReplaceSecretFile(f.Path, []byte(old+"\n")); err != nil {
		return fmt.Errorf("restore %s: %w", f.Path, err)
	}
	return nil
}

// RedisRotateOptions are the inputs of [RotateRedisPassword].
type RedisRotateOptions struct {
	// Redis is the one server whose ACL changes (its TLS settings and
	// database; its user and password are ignored: User and Store give
	// them). A Sentinel or Cluster endpoint is refused.
	Redis redisconn.Endpoint
	// User is the ACL user whose password rotates ("default" when empty).
	User string
	// Store holds the password the daemons use.
	Store PasswordStore
	// AdminUser and AdminPassword run the ACL commands; empty AdminUser
	// means User itself, with the password from Store.
	AdminUser, AdminPassword string
	// NewPassword is used instead of a random one (tests).
	NewPassword string
	// DryRun runs the checks only.
	DryRun bool
	// Step is told about each step as it completes.
	Step func(RedisStep)
}

// RedisStep is one completed step.
type RedisStep struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}

// RedisRotation is what [RotateRedisPassword] did.
type RedisRotation struct {
	User       string      `json:"user"`
	Store      string      `json:"store"`
	Addr       string      `json:"addr"`
	DryRun     bool        `json:"dry_run"`
	Steps      []RedisStep `json:"steps"`
	RolledBack bool        `json:"rolled_back"`
	// OldRejected is true once the old password was seen to fail with
	// WRONGPASS.
	OldRejected bool `json:"old_password_rejected"`
}

// RedisTarget checks that cfg keeps the Redis password where a rotation
// can change it (redis.password: file:PATH, one standalone server) and
// returns the server, user and file.
func RedisTarget(cfg *config.Config) (server redisconn.Endpoint, user, file string, err error) {
	pw := string(cfg.Redis.Password)
	switch {
	case pw == "":
		return server, "", "", fmt.Errorf("%w: redis.password is not set; set it to file:PATH (for example the redis_password file `tarsctl secrets generate` writes)", ErrRedisPasswordNotInFile)
	case strings.HasPrefix(pw, "env:"):
		return server, "", "", fmt.Errorf("%w: redis.password is %s, and an environment variable cannot change under running daemons; put the password in a file (0600) and set redis.password to file:PATH", ErrRedisPasswordNotInFile, pw)
	case !strings.HasPrefix(pw, "file:"):
		return server, "", "", fmt.Errorf("%w: redis.password is a literal in the configuration; put the password in a file (0600) and set redis.password to file:PATH, which the daemons re-read for each new connection", ErrRedisPasswordNotInFile)
	}
	file = strings.TrimPrefix(pw, "file:")
	// The password comes from the file when the rotation starts.
	e, err := redisconn.FromConfig(cfg.Redis, "")
	if err != nil {
		return server, "", "", err
	}
	if server, err = e.Node(""); err != nil {
		return server, "", "", fmt.Errorf("%w: %w: ACLs are per server and not replicated; rotate on each node by hand (ACL SETUSER on every node), or point tarsctl at each node in standalone mode", ErrRedisUnsupported, err)
	}
	user = cfg.Redis.Username
	if user == "" {
		user = "default"
	}
	return server, user, file, nil
}

// RotateRedisPassword rotates an ACL user's password with no moment at
// which a client holding either the old or the new password (in the order
// the daemons move from one to the other) cannot authenticate:
//
//  1. ACL SETUSER user >NEW — adds NEW; OLD keeps working
//  2. write NEW to the store, and the daemons move to it
//  3. verify AUTH user NEW + PING on a fresh connection
//  4. ACL SETUSER user <OLD — connections already open stay authenticated
//  5. verify AUTH user OLD now fails with WRONGPASS
//
// A failure before step 4 rolls back: the store gets OLD back and NEW is
// removed, even when ctx was cancelled. The password never appears in
// errors or steps.
func RotateRedisPassword(ctx context.Context, o RedisRotateOptions) (RedisRotation, error) {
	if o.User == "" {
		o.User = "default"
	}
	res := RedisRotation{User: o.User, Store: o.Store.String(), Addr: o.Redis.String(), DryRun: o.DryRun, Steps: []RedisStep{}}
	server, err := o.Redis.Node("")
	if err != nil {
		return res, fmt.Errorf("%w: %w", ErrRedisUnsupported, err)
	}
	o.Redis = server
	done := func(name, format string, args ...any) {
		s := RedisStep{Name: name, Detail: fmt.Sprintf(format, args...)}
		res.Steps = append(res.Steps, s)
		if o.Step != nil {
			o.Step(s)
		}
	}
	old, err := o.Store.Read(ctx)
	if err != nil {
		return res, err
	}
	if old == "" {
		return res, fmt.Errorf("the Redis password in %s is empty", o.Store)
	}

	// Step 0: the old password is the user's, and the admin may run ACL.
	if err := authPing(ctx, o.Redis, o.User, old); err != nil {
		return res, fmt.Errorf("the password in %s does not authenticate as %s: %w", o.Store, o.User, err)
	}
	admin, err := newAdmin(o, old)
	if err != nil {
		return res, err
	}
	defer admin.Close()
	flags, err := admin.userFlags(ctx, o.User)
	if err != nil {
		return res, err
	}
	if flags["nopass"] {
		return res, fmt.Errorf("%w: ACL user %s has nopass: it accepts any password, so there is nothing to rotate", ErrRedisUnsupported, o.User)
	}
	done(StepRedisCheck, "the password in %s authenticates as %s; %s may run ACL SETUSER", o.Store, o.User, admin.user)
	if o.DryRun {
		return res, nil
	}

	newPW := o.NewPassword
	if newPW == "" {
		newPW = Password()
	}
	var added, wrote bool
	rollback := func(cause error) (RedisRotation, error) {
		// Undo even after a cancel or a timeout: a daemon restarted with
		// NEW must not be left with a password about to be removed, and
		// NEW must not stay valid.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		if wrote {
			if err := o.Store.Restore(ctx, old, newPW); err != nil {
				// Daemons may hold NEW: keep it valid rather than lock them out.
				return res, fmt.Errorf("%w; rolling back also failed, and the new password is kept valid beside the old one: %w", cause, err)
			}
		}
		if added {
			// Both passwords work at this point, so the admin connection
			// authenticates whichever it holds.
			if err := admin.do(ctx, "ACL", "SETUSER", o.User, "<"+newPW); err != nil {
				return res, fmt.Errorf("%w; rolling back also failed: remove the new password from %s: %w", cause, o.User, err)
			}
		}
		res.RolledBack = true
		return res, fmt.Errorf("%w (rolled back: the old password is in force, the new one removed)", cause)
	}

	if err := admin.do(ctx, "ACL", "SETUSER", o.User, ">"+newPW); err != nil {
		return res, fmt.Errorf("add the new password to %s: %w", o.User, err)
	}
	added = true
	admin.sameUserPassword(o.User, newPW)
	done(StepRedisAddNew, "ACL SETUSER %s >NEW: the old and the new password both work", o.User)

	wrote = true
	daemons, err := o.Store.Write(ctx, old, newPW)
	if err != nil {
		return rollback(err)
	}
	done(StepRedisWrite, "wrote the new password to %s", o.Store)
	done(StepRedisDaemons, "%s", daemons)

	if err := authPing(ctx, o.Redis, o.User, newPW); err != nil {
		return rollback(fmt.Errorf("verify the new password: %w", err))
	}
	done(StepRedisVerifyNew, "AUTH %s with the new password and PING: PONG", o.User)

	if err := admin.do(ctx, "ACL", "SETUSER", o.User, "<"+old); err != nil {
		return rollback(fmt.Errorf("remove the old password from %s: %w", o.User, err))
	}
	done(StepRedisRemoveOld, "ACL SETUSER %s <OLD: open connections stay authenticated", o.User)

	err = authPing(ctx, o.Redis, o.User, old)
	switch {
	case err == nil:
		return res, fmt.Errorf("the old password still authenticates as %s after ACL SETUSER <OLD", o.User)
	case !errors.Is(err, ErrRedisPermission):
		return res, fmt.Errorf("check the old password is refused: %w", err)
	}
	res.OldRejected = true
	done(StepRedisVerifyOldBad, "AUTH %s with the old password: WRONGPASS", o.User)
	return res, nil
}

// rollbackTimeout bounds the undo of a failed rotation, which runs even
// when the rotation's own context is done (a Kubernetes restore restarts
// pods and waits for them).
const rollbackTimeout = 10 * time.Minute

// redisOptions tune the rotation's clients: one connection each, no
// retries (a command must not run twice, nor on a connection that
// authenticated otherwise).
var redisOptions = redisconn.Options{PoolSize: 1, DialTimeout: 5 * time.Second}

// authPing opens a fresh connection to server as user with password and
// PINGs. Refused credentials are [ErrRedisPermission]; no connection is
// [ErrRedisUnreachable].
func authPing(ctx context.Context, server redisconn.Endpoint, user, password string) error {
	server.Username, server.Password, server.PasswordFile = user, password, ""
	c, _, err := redisconn.Connect(ctx, server, redisOptions)
	if err != nil {
		return err
	}
	return c.Close()
}

// admin is the single connection that runs the ACL commands.
type admin struct {
	user string
	mu   sync.Mutex
	pw   string
	c    *redis.Client
}

func newAdmin(o RedisRotateOptions, old string) (*admin, error) {
	a := &admin{user: o.AdminUser, pw: o.AdminPassword}
	if a.user == "" {
		a.user, a.pw = o.User, old
	}
	opts := redisOptions
	opts.Credentials = func() (string, string) {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.user, a.pw
	}
	c, _, err := redisconn.OpenNode(o.Redis, opts)
	if err != nil {
		return nil, err
	}
	a.c = c
	return a, nil
}

// sameUserPassword: when the admin is the rotated user, a reconnect after
// the old password is removed must use the new one.
func (a *admin) sameUserPassword(user, pw string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.user == user {
		a.pw = pw
	}
}

func (a *admin) Close() error { return a.c.Close() }

func (a *admin) do(ctx context.Context, args ...any) error {
	err := redisconn.Classify(a.c.Do(ctx, args...).Err())
	if err != nil {
		err = redactArgs(err, args)
	}
	if errors.Is(err, ErrRedisPermission) {
		return fmt.Errorf("as %s: %w (the admin user needs the ACL command: +acl, or +@admin)", a.user, err)
	}
	return err
}

// redactArgs keeps passwords (ACL rules >PW and <PW) out of an error that
// may echo the command back.
func redactArgs(err error, args []any) error {
	msg := err.Error()
	changed := false
	for _, a := range args {
		r, ok := a.(string)
		if !ok || len(r) < 2 || (r[0] != '>' && r[0] != '<') {
			continue
		}
		if strings.Contains(msg, r[1:]) {
			msg, changed = strings.ReplaceAll(msg, r[1:], "[redacted]"), true
		}
	}
	if !changed {
		return err
	}
	for _, base := range []error{ErrRedisPermission, ErrRedisUnreachable} {
		if errors.Is(err, base) {
			return fmt.Errorf("%w: %s", base, strings.TrimPrefix(msg, base.Error()+": "))
		}
	}
	return errors.New(msg)
}

// userFlags runs ACL GETUSER, which needs the same right as ACL SETUSER,
// and returns the user's flags.
func (a *admin) userFlags(ctx context.Context, user string) (map[string]bool, error) {
	v, err := a.c.Do(ctx, "ACL", "GETUSER", user).Result()
	if err = redisconn.Classify(err); err != nil {
		if errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("%w: ACL user %s does not exist", ErrRedisUnsupported, user)
		}
		if errors.Is(err, ErrRedisPermission) {
			return nil, fmt.Errorf("as %s: %w (the admin user needs the ACL command: +acl, or +@admin; pass --admin-user and --admin-password-file)", a.user, err)
		}
		return nil, err
	}
	flags := map[string]bool{}
	var fields []any
	switch t := v.(type) {
	case []any:
		fields = t
	case map[any]any:
		if f, ok := t["flags"].([]any); ok {
			for _, x := range f {
				flags[fmt.Sprint(x)] = true
			}
		}
		return flags, nil
	case nil:
		return nil, fmt.Errorf("%w: ACL user %s does not exist", ErrRedisUnsupported, user)
	}
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i] == "flags" {
			if f, ok := fields[i+1].([]any); ok {
				for _, x := range f {
					flags[fmt.Sprint(x)] = true
				}
			}
		}
	}
	return flags, nil
}

// ReadPasswordFile reads a password file for --admin-password-file.
func ReadPasswordFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("%s is empty", path)
	}
	return pw, nil
}

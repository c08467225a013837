package services

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/tars-ops/tarsctl/internal/config"
	"github.com/tars-ops/tarsctl/internal/daemon"
)

// Listen returns what daemon name serves on: ln when one is given (tests
// pass 127.0.0.1:0), otherwise a new listener on its configured address;
// and the TLS configuration from api.tls (nil for plain HTTP). On error
// nothing is left open.
func Listen(cfg *config.Config, name string, ln net.Listener) (net.Listener, *tls.Config, error) {
	tlsCfg, err := daemon.LoadTLS(daemon.TLSFiles{CertFile: cfg.API.TLS.CertFile, KeyFile: cfg.API.TLS.KeyFile, ClientCAFile: cfg.API.TLS.ClientCAFile})
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return nil, nil, err
	}
	if ln == nil {
		spec, ok := Lookup(name)
		if !ok {
			return nil, nil, fmt.Errorf("listen: unknown service %q", name)
		}
		addr := spec.Addr(cfg)
		if ln, err = net.Listen("tcp", addr); err != nil {
			return nil, nil, fmt.Errorf("listen on %s: %w", addr, err)
		}
	}
	return ln, tlsCfg, nil
}

// Command tarsctl-k8s is tarsctl with its Kubernetes commands run in
// process: `tarsctl deploy k8s ...`, `scale`, `restart --target k8s`,
// `status --target k8s` and `secrets rotate ... --target k8s` hand their
// command line over to it (git/kubectl-plugin style). It links the Helm v3
// SDK and client-go, whose ~80 ms of package initialisation tarsctl itself
// must not pay at every start. It has the same command tree, flags, output
// and exit codes as tarsctl.
package main

import (
	"os"

	"github.com/tars-ops/tarsctl/internal/app"
	"github.com/tars-ops/tarsctl/internal/deploy/k8srunner"
)

func main() {
	k8srunner.Set(newRunner())
	os.Exit(app.Main())
}

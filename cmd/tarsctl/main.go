// Command tarsctl is the operator toolkit for T.A.R.S.
package main

import (
	"os"

	"github.com/tars-ops/tarsctl/internal/app"
)

func main() {
	os.Exit(app.Main())
}

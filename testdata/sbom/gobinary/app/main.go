// Command tars-hello is a fixture: a tiny Go binary whose build information
// the SBOM tests read.
package main

import (
	"fmt"

	"example.com/greet"
)

func main() { fmt.Println(greet.Hello()) }

// Command hello stands in for tarsctl in the bundle tests: a small Go
// binary with build information, compiled for linux/amd64 and linux/arm64.
package main

import "fmt"

func main() { fmt.Println("hello from the air-gap bundle tests") }

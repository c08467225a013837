package config

import "fmt"

func fmtV(v any) string      { return fmt.Sprintf("%v %+v %s", v, v, v) }
func fmtSharpV(v any) string { return fmt.Sprintf("%#v", v) }

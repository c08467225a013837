module example.com/tars-fixture

go 1.22

require (
	github.com/BurntSushi/toml v1.4.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/text v0.41.0
	example.com/localdep v0.0.0
)

require (
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	github.com/not-in-cache/module v0.3.0 // indirect
)

replace example.com/localdep => ./localdep

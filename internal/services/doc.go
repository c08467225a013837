// Package services is the catalog of the T.A.R.S. daemons tarsctl serves
// and supervises, and what every daemon shares to listen. Each daemon's
// code lives in a package of its own under this directory; this package
// imports none of them.
//
// # The catalog
//
// One [Entry] per daemon holds what the rest of tarsctl derives from it:
// the name and aliases, the API port and a peer port (a consensus
// transport), the configuration section (services.KEY), the Kubernetes
// workload (Deployment, or StatefulSet for a daemon whose peers need
// stable names) and whether it autoscales, the daemons it depends on, what
// its /health reports and which external servers (Redis, the database) it
// uses, its log file, and its Compose settings. `tarsctl serve`, start,
// stop, restart, status, health and logs, triage, the Helm chart, the
// Compose file, the air-gap image and the command docs all read it: none
// of them lists the daemons.
//
// [All] lists the entries in dependency order; [Lookup] finds one by name
// or alias; [Validate] checks a catalog (unique names, aliases, ports and
// configuration keys; dependencies that exist, come first and form no
// cycle).
//
// # Implementations
//
// The catalog does not know how to run a daemon: that would import every
// daemon's package, which imports this one. internal/daemons is the table
// of each daemon's run function under its catalog name, and its tests
// check that every entry has an implementation and every implementation
// an entry.
//
// # Tests
//
// [TestOnlyRegister] adds an entry for the length of one test, so a test
// can check that an output derived from the catalog (the chart, the
// Compose file, status, triage) shows an entry nothing else knows about.
package services

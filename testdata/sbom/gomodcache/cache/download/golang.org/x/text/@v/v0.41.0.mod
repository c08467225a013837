module golang.org/x/text

go 1.24.0

require golang.org/x/tools v0.38.0 // tagx:ignore

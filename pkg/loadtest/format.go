package loadtest

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// FormatMS formats a duration in milliseconds for people, to three
// significant digits: "125ms", "5.12ms", "0.421ms", "1.25s".
func FormatMS(v float64) string {
	if math.Abs(v) >= 1000 {
		return sig3(v/1000) + "s"
	}
	return sig3(v) + "ms"
}

// FormatRate formats a rate in requests per second: "1234.5 req/s".
func FormatRate(v float64) string { return fmtNumber(v) + " req/s" }

// FormatPercent formats a fraction as a percentage: 0.0012 is "0.12%".
func FormatPercent(v float64) string {
	return strconv.FormatFloat(v*100, 'f', 2, 64) + "%"
}

// FormatTolerance formats a tolerance as a percentage without trailing
// zeros: 0.1 is "10%".
func FormatTolerance(v float64) string {
	return trimZeros(strconv.FormatFloat(v*100, 'f', 2, 64)) + "%"
}

func sig3(v float64) string {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	dec := 2 - int(math.Floor(math.Log10(math.Abs(v))))
	dec = max(0, min(3, dec))
	return trimZeros(strconv.FormatFloat(v, 'f', dec, 64))
}

func trimZeros(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(s, "0")
		s = strings.TrimSuffix(s, ".")
	}
	if s == "-0" {
		s = "0"
	}
	return s
}

// fmtNumber formats a rate with one decimal.
func fmtNumber(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// fmtSeconds formats seconds: "10.0s".
func fmtSeconds(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) + "s" }

// fmtChange formats a relative change: "+4.2%", "-16.7%".
func fmtChange(v float64) string {
	s := strconv.FormatFloat(v*100, 'f', 1, 64)
	if s == "-0.0" {
		s = "0.0"
	}
	if !strings.HasPrefix(s, "-") {
		s = "+" + s
	}
	return s + "%"
}

func sortStrings(s []string) { sort.Strings(s) }

package config_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hakube/hakube/config"
	"github.com/hakube/hakube/hwdetect"
)

// TestTimezoneFromHost: the host's zone (as hwdetect read it from
// /etc/localtime or /etc/timezone) is the default; a set timezone wins;
// none found keeps UTC.
func TestTimezoneFromHost(t *testing.T) {
	load := func(zone string, environ []string) config.Config {
		r := &hwdetect.Report{Arch: "amd64", Timezone: zone, TimezoneFrom: "/etc/localtime"}
		res, err := config.Load(config.Sources{Adjust: config.FromHardware(r, true), Environ: environ})
		require.NoError(t, err)
		return res.Config
	}
	assert.Equal(t, "Europe/Berlin", load("Europe/Berlin", nil).Timezone)
	assert.Equal(t, "UTC", load("", nil).Timezone, "neither file: UTC")
	assert.Equal(t, "Asia/Tokyo", load("Europe/Berlin", []string{"HAKUBE_TIMEZONE=Asia/Tokyo"}).Timezone, "the user's setting wins")
	assert.Equal(t, "UTC", load("Not/AZone", nil).Timezone, "an unknown zone is not taken")
}

package controllers

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// Bounds that keep an ImageConfig well under etcd's 1.5 MiB object limit, whatever
// image it points at. The list bounds are also the CRD's MaxItems and MaxProperties.
const (
	maxPlatforms    = 128
	maxLayers       = 256
	maxEnv          = 256
	maxEntrypoint   = 64
	maxCmd          = 256
	maxPorts        = 128
	maxVolumes      = 128
	maxLabels       = 256
	maxStatusBytes  = 1 << 20
	maxStringLength = 4096
	minStringLength = 64
)

// fitStatus shortens what does not fit: lists beyond their bound, then, while the
// status is over maxStatusBytes, every long string to half the length before. It
// returns what it did, for status.truncated, or "".
func fitStatus(st *imagesv1alpha1.ImageConfigStatus) string {
	var notes []string
	st.Platforms = capList(st.Platforms, maxPlatforms, "platforms", &notes)
	st.Layers = capList(st.Layers, maxLayers, "layers", &notes)
	if c := st.Config; c != nil {
		c.Env = capList(c.Env, maxEnv, "config.env", &notes)
		c.Entrypoint = capList(c.Entrypoint, maxEntrypoint, "config.entrypoint", &notes)
		c.Cmd = capList(c.Cmd, maxCmd, "config.cmd", &notes)
		c.ExposedPorts = capList(c.ExposedPorts, maxPorts, "config.exposedPorts", &notes)
		c.Volumes = capList(c.Volumes, maxVolumes, "config.volumes", &notes)
		if len(c.Labels) > maxLabels {
			keys := make([]string, 0, len(c.Labels))
			for k := range c.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys[maxLabels:] {
				delete(c.Labels, k)
			}
			notes = append(notes, fmt.Sprintf("config.labels: kept the first %d of %d, by name", maxLabels, len(keys)))
		}
	}
	for limit := maxStringLength; limit >= minStringLength; limit /= 2 {
		shortened := shortenStrings(st, limit)
		if shortened > 0 {
			notes = append(notes, fmt.Sprintf("%d values were cut to %d bytes", shortened, limit))
		}
		if b, err := json.Marshal(st); err != nil || len(b) <= maxStatusBytes {
			break
		}
	}
	return strings.Join(notes, "; ")
}

func capList[T any](list []T, n int, name string, notes *[]string) []T {
	if len(list) <= n {
		return list
	}
	*notes = append(*notes, fmt.Sprintf("%s: kept the first %d of %d", name, n, len(list)))
	return list[:n]
}

// shortenStrings cuts the free-text values of the status to limit bytes and
// returns how many it cut.
func shortenStrings(st *imagesv1alpha1.ImageConfigStatus, limit int) int {
	n := 0
	cut := func(s *string) {
		if len(*s) > limit {
			*s = truncateUTF8(*s, limit-len("…")) + "…"
			n++
		}
	}
	for i := range st.Layers {
		cut(&st.Layers[i].CreatedBy)
		cut(&st.Layers[i].Comment)
	}
	if c := st.Config; c != nil {
		for _, list := range [][]string{c.Env, c.Entrypoint, c.Cmd, c.ExposedPorts, c.Volumes} {
			for i := range list {
				cut(&list[i])
			}
		}
		for k, v := range c.Labels {
			cut(&v)
			c.Labels[k] = v
		}
		cut(&c.Author)
	}
	cut(&st.LayerHistoryNote)
	return n
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

package imagestatus

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	imagesv1alpha1 "github.com/imageconfig/imageconfig-operator/api/v1alpha1"
)

// Fit shortens what does not fit: lists beyond their bound (api/v1alpha1/limits.go), then, while the
// status is over MaxStatusBytes as JSON, every long string to half the length
// before. It returns what it did, for status.truncated, or "".
func Fit(st *imagesv1alpha1.ImageConfigStatus) string {
	var notes []string
	st.Platforms = capList(st.Platforms, imagesv1alpha1.MaxPlatforms, "platforms", &notes)
	st.Layers = capList(st.Layers, imagesv1alpha1.MaxLayers, "layers", &notes)
	if c := st.Config; c != nil {
		c.Env = capList(c.Env, imagesv1alpha1.MaxEnv, "config.env", &notes)
		c.Entrypoint = capList(c.Entrypoint, imagesv1alpha1.MaxEntrypoint, "config.entrypoint", &notes)
		c.Cmd = capList(c.Cmd, imagesv1alpha1.MaxCmd, "config.cmd", &notes)
		c.ExposedPorts = capList(c.ExposedPorts, imagesv1alpha1.MaxPorts, "config.exposedPorts", &notes)
		c.Volumes = capList(c.Volumes, imagesv1alpha1.MaxVolumes, "config.volumes", &notes)
		if len(c.Labels) > imagesv1alpha1.MaxLabels {
			keys := make([]string, 0, len(c.Labels))
			for k := range c.Labels {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys[imagesv1alpha1.MaxLabels:] {
				delete(c.Labels, k)
			}
			notes = append(notes, fmt.Sprintf("config.labels: kept the first %d of %d, by name", imagesv1alpha1.MaxLabels, len(keys)))
		}
	}
	for limit := imagesv1alpha1.MaxStringLength; limit >= imagesv1alpha1.MinStringLength; limit /= 2 {
		shortened := shortenStrings(st, limit)
		if shortened > 0 {
			notes = append(notes, fmt.Sprintf("%d values were cut to %d bytes", shortened, limit))
		}
		if n, err := jsonSize(st); err != nil || n <= imagesv1alpha1.MaxStatusBytes {
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

// jsonSize is len(json.Marshal(v)) without the copy of the bytes that Marshal
// returns: the encoder writes from its pooled buffer to a counter. (Encode
// adds a newline, not counted.)
func jsonSize(v any) (int, error) {
	var c byteCounter
	if err := json.NewEncoder(&c).Encode(v); err != nil {
		return 0, err
	}
	return int(c) - 1, nil
}

type byteCounter int

func (c *byteCounter) Write(p []byte) (int, error) {
	*c += byteCounter(len(p))
	return len(p), nil
}

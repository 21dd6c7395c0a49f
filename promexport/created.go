package promexport

import (
	"hash/maphash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/otlptranslator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Start (created) timestamps. The OTel exporter gives a native histogram
// its point's StartTime but a counter or a classic histogram none, so
// Prometheus 3 with created-timestamp-zero-ingestion could not insert the
// zero before a new series' first value, and increase() lost the first
// requests of every route. The exporter still encodes every series;
// starts only remembers each series' start, by the name and labels the
// exporter gives it, and fills in the one field the exporter leaves empty.
//
// The SDK gives every series of an instrument the instrument's start
// unless OTEL_GO_X_PER_SERIES_START_TIMESTAMPS is set, so a route first
// requested an hour after start would get a zero an hour back, where no
// rate window sees it. A derived series that was absent from the previous
// collection started after that collection began, so it starts no earlier
// than that; this needs no state in the SDK and agrees with it when it
// does keep per-series starts. A start only moves later when the SDK's
// does, that is, when the series restarted.
type starts struct {
	seed  maphash.Seed
	namer otlptranslator.MetricNamer
	label otlptranslator.LabelNamer

	// Written by Produce, under the translator's collectMu.
	names  map[nameKey]uint64       // hash of each metric's exported family name
	labels map[attribute.Key]string // each attribute key as a label name
	prev   time.Time                // when the previous collection began

	mu    sync.RWMutex
	byKey map[uint64]time.Time // by series hash, bounded by maxLabelCache

	// tracking turns on with the first protobuf scrape or push of the
	// derived series, the only two that carry starts: noting them cost a
	// text scrape of 6,000 series about a sixth of its CPU time. A series
	// new before then starts at the SDK's start, earlier than the truth
	// but never later.
	tracking atomic.Bool
}

// track turns tracking on.
func (s *starts) track() {
	if !s.tracking.Load() {
		s.tracking.Store(true)
	}
}

type nameKey struct {
	name, unit string
	kind       otlptranslator.MetricType
}

func newStarts() *starts {
	return &starts{
		seed:   maphash.MakeSeed(),
		namer:  otlptranslator.NewMetricNamer("", otlptranslator.UnderscoreEscapingWithSuffixes),
		label:  otlptranslator.LabelNamer{},
		names:  map[nameKey]uint64{},
		labels: map[attribute.Key]string{},
		byKey:  map[uint64]time.Time{},
	}
}

// record notes the start of every cumulative series of one collection,
// begun at begun, and moves the derived series' starts (derived holds
// their metrics) to no earlier than the previous collection where they
// are new: the exporter serves a native histogram's StartTime as it is.
// The other metrics keep the SDK's start, since an instrument whose
// callback failed is absent from a collection without being new.
func (s *starts) record(kept []metricdata.ScopeMetrics, derived []metricdata.Metrics, begun time.Time) {
	if !s.tracking.Load() {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sm := range kept {
		for _, m := range sm.Metrics {
			s.recordMetric(m, false)
		}
	}
	for _, m := range derived {
		s.recordMetric(m, true)
	}
	s.prev = begun
}

func (s *starts) recordMetric(m metricdata.Metrics, derived bool) {
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		if d.IsMonotonic && d.Temporality == metricdata.CumulativeTemporality {
			name := s.name(m)
			for i := range d.DataPoints {
				s.note(name, d.DataPoints[i].Attributes, &d.DataPoints[i].StartTime, derived)
			}
		}
	case metricdata.Sum[float64]:
		if d.IsMonotonic && d.Temporality == metricdata.CumulativeTemporality {
			name := s.name(m)
			for i := range d.DataPoints {
				s.note(name, d.DataPoints[i].Attributes, &d.DataPoints[i].StartTime, derived)
			}
		}
	case metricdata.Histogram[float64]:
		if d.Temporality == metricdata.CumulativeTemporality {
			name := s.name(m)
			for i := range d.DataPoints {
				s.note(name, d.DataPoints[i].Attributes, &d.DataPoints[i].StartTime, derived)
			}
		}
	case metricdata.Histogram[int64]:
		if d.Temporality == metricdata.CumulativeTemporality {
			name := s.name(m)
			for i := range d.DataPoints {
				s.note(name, d.DataPoints[i].Attributes, &d.DataPoints[i].StartTime, derived)
			}
		}
	case metricdata.ExponentialHistogram[float64]:
		if d.Temporality == metricdata.CumulativeTemporality {
			name := s.name(m)
			for i := range d.DataPoints {
				s.note(name, d.DataPoints[i].Attributes, &d.DataPoints[i].StartTime, derived)
			}
		}
	}
}

// note records one series' start; for a derived series it also sets it.
// s.mu is held.
func (s *starts) note(name uint64, attrs attribute.Set, start *time.Time, derived bool) {
	key := name
	for it := attrs.Iter(); it.Next(); {
		kv := it.Attribute()
		l, ok := s.labels[kv.Key]
		if !ok {
			var err error
			if l, err = s.label.Build(string(kv.Key)); err != nil {
				return // the exporter drops the series too
			}
			if len(s.labels) < maxLabelCache {
				s.labels[kv.Key] = l
			}
		}
		key += s.pair(l, kv.Value)
	}
	old, known := s.byKey[key]
	if !derived {
		if known && old.Equal(*start) || !known && len(s.byKey) >= maxLabelCache {
			return
		}
		s.byKey[key] = *start
		return
	}
	switch {
	case known:
		// Later only when the SDK restarted the series.
		*start = latest(old, *start)
	case len(s.byKey) >= maxLabelCache:
		// Untracked: the SDK's start, earlier than the truth but never
		// later, which would read as a reset on every scrape.
		return
	default:
		*start = latest(s.prev, *start)
	}
	s.byKey[key] = *start
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// name returns the hash of m's family name as the exporter spells it.
func (s *starts) name(m metricdata.Metrics) uint64 {
	k := nameKey{name: m.Name, unit: m.Unit, kind: namingType(m.Data)}
	if h, ok := s.names[k]; ok {
		return h
	}
	name, err := s.namer.Build(otlptranslator.Metric{Name: k.name, Unit: k.unit, Type: k.kind})
	if err != nil {
		name = ""
	}
	h := maphash.String(s.seed, name)
	if len(s.names) < maxLabelCache {
		s.names[k] = h
	}
	return h
}

// pair hashes one label; a series' hash is its name's plus the sum of its
// labels', so that the order of the labels does not matter.
func (s *starts) pair(name string, v attribute.Value) uint64 {
	var buf [24]byte
	var h uint64
	switch v.Type() {
	case attribute.STRING:
		h = maphash.String(s.seed, v.AsString())
	case attribute.INT64:
		h = maphash.Bytes(s.seed, strconv.AppendInt(buf[:0], v.AsInt64(), 10))
	case attribute.BOOL:
		h = maphash.String(s.seed, strconv.FormatBool(v.AsBool()))
	default:
		h = maphash.String(s.seed, v.String())
	}
	return mix(maphash.String(s.seed, name)) ^ h
}

func (s *starts) pairString(name, value string) uint64 {
	return mix(maphash.String(s.seed, name)) ^ maphash.String(s.seed, value)
}

// mix is splitmix64's finaliser: it keeps a label's name and value from
// cancelling out when combined.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

// annotate gives every counter and histogram of mfs that has no created
// timestamp the start recorded for it.
func (s *starts) annotate(mfs []*dto.MetricFamily) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, mf := range mfs {
		t := mf.GetType()
		if t != dto.MetricType_COUNTER && t != dto.MetricType_HISTOGRAM {
			continue
		}
		name := maphash.String(s.seed, mf.GetName())
		for _, m := range mf.Metric {
			if m.Counter != nil && m.Counter.CreatedTimestamp != nil || m.Histogram != nil && m.Histogram.CreatedTimestamp != nil {
				continue
			}
			key := name
			for _, l := range m.Label {
				key += s.pairString(l.GetName(), l.GetValue())
			}
			start, ok := s.byKey[key]
			if !ok || start.IsZero() {
				continue
			}
			ts := timestamppb.New(start)
			switch {
			case m.Counter != nil:
				m.Counter.CreatedTimestamp = ts
			case m.Histogram != nil:
				m.Histogram.CreatedTimestamp = ts
			}
		}
	}
}

// createdGatherer is the registry as the endpoint serves it: with the
// start of every series.
type createdGatherer struct {
	prometheus.Gatherer
	starts *starts
}

func (g createdGatherer) Gather() ([]*dto.MetricFamily, error) {
	g.starts.track()
	mfs, err := g.Gatherer.Gather()
	g.starts.annotate(mfs)
	return mfs, err
}
